"""The golden tiny model (tests/fixtures/tiny_a, outputs of the original PyTorch ViCLIP) through
Python, with the Rust tests' thresholds (tests/it/golden_model.rs), never loosened."""

import numpy as np

import viclip

# Embeddings before and after normalisation (tests/it/golden_model.rs EMB_TOL).
EMB_TOL = 1e-4


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def test_video_embeddings(model, inputs, outputs):
    got = model.embed_videos(inputs["videos"])
    assert got.dtype == np.float32 and got.shape == (3, 48)
    assert max_abs(got, outputs["video_embeds"]) <= EMB_TOL
    pre = model.embed_videos(inputs["videos"], normalize=False)
    assert max_abs(pre, outputs["video_embeds_prenorm"]) <= EMB_TOL


def test_image_embeddings(model, inputs, outputs):
    assert max_abs(model.embed_images(inputs["images"]), outputs["image_embeds"]) <= EMB_TOL
    pre = model.embed_images(inputs["images"], normalize=False)
    assert max_abs(pre, outputs["image_embeds_prenorm"]) <= EMB_TOL


def test_text_embeddings(model, captions, outputs):
    got = model.embed_texts(captions)
    assert got.shape == (11, 48) and got.dtype == np.float32
    assert max_abs(got, outputs["text_embeds"]) <= EMB_TOL
    pre = model.embed_texts(captions, normalize=False)
    assert max_abs(pre, outputs["text_embeds_prenorm_batched"]) <= EMB_TOL


def test_tokenize_is_exact(model, captions, intermediates):
    ids = model.tokenize(captions)
    assert ids.dtype == np.int64 and ids.shape == (11, 32)
    np.testing.assert_array_equal(ids, intermediates["text.input_ids"])


def test_normalize_means_unit_rows(model, inputs, captions):
    for e in (model.embed_videos(inputs["videos"]), model.embed_texts(captions)):
        np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)


def test_inputs_through_the_array_interface(model, inputs, outputs):
    videos = inputs["videos"]
    # float64, a non-contiguous view and a plain list all give the same embeddings.
    np.testing.assert_array_equal(model.embed_videos(videos.astype(np.float64)), model.embed_videos(videos))
    strided = np.asfortranarray(videos)
    np.testing.assert_array_equal(model.embed_videos(strided), model.embed_videos(videos))
    assert max_abs(model.embed_videos(videos[:1].tolist()), outputs["video_embeds"][:1]) <= EMB_TOL

    class OnlyTheInterface:
        """What a torch CPU tensor or another library's array offers NumPy: the interface alone."""

        def __init__(self, a):
            self._a = a
            self.__array_interface__ = a.__array_interface__

    np.testing.assert_array_equal(model.embed_videos(OnlyTheInterface(videos)), model.embed_videos(videos))


def test_outputs_own_their_memory(model, captions, inputs):
    # What torch.from_numpy needs: writeable, C-contiguous, aligned, native byte order.
    outs = [model.embed_texts(captions), model.tokenize(captions), model.embed_videos(inputs["videos"]),
            model.embed_images(inputs["videos"][:, 0]), viclip.compat.frames2tensor(
                [np.zeros((20, 30, 3), np.uint8)] * 8, 8, (112, 112))]
    for e in outs:
        assert e.flags["C_CONTIGUOUS"] and e.flags["WRITEABLE"] and e.flags["ALIGNED"], e.flags
        assert e.dtype.isnative and e.dtype in (np.float32, np.int64)
    e = outs[0]
    e[0, 0] = 5.0  # the array is the caller's, not a view of the model's memory
    assert model.embed_texts(captions)[0, 0] != 5.0


def test_empty_inputs(model):
    assert model.embed_texts([]).shape == (0, 48)
    assert model.embed_videos(np.zeros((0, 8, 3, 112, 112), np.float32)).shape == (0, 48)


def test_properties(model):
    assert (model.embedding_dim, model.num_frames, model.input_size, model.context_length) == (48, 8, 112, 32)
    assert model.batch_size >= 1 and model.text_batch_size >= 1
    import hashlib
    from conftest import TINY_WEIGHTS

    assert model.identity == hashlib.sha256(TINY_WEIGHTS.read_bytes()).hexdigest()
    assert "ViClip(" in repr(model)
