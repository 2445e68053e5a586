"""A good citizen of the interpreter: the GIL released, threads, Ctrl-C, fork, memory."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import viclip
from conftest import TINY_CONFIG, TINY_WEIGHTS

HERE = os.path.dirname(os.path.abspath(__file__))


def big_batch(n=96):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 8, 3, 112, 112), dtype=np.float32)


def test_gil_released_during_embed_videos(model):
    videos = big_batch()
    count = 0
    stop = threading.Event()

    def counter():
        nonlocal count
        while not stop.is_set():
            count += 1

    t = threading.Thread(target=counter)
    t.start()
    time.sleep(0.05)
    before = count
    start = time.perf_counter()
    model.embed_videos(videos)
    took = time.perf_counter() - start
    during = count - before
    stop.set()
    t.join()
    # With the GIL held for the whole call the counter would stand still (up to one switch interval).
    assert during > 1000, f"counter advanced {during} times in {took:.2f}s"


def test_threads_share_one_model(model, captions):
    videos = big_batch(16)
    want_v = model.embed_videos(videos)
    want_t = model.embed_texts(captions)
    results = [None] * 4
    errors = []

    def work(i):
        try:
            results[i] = (model.embed_videos(videos), model.embed_texts(captions))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for v, t in results:
        np.testing.assert_array_equal(v, want_v)
        np.testing.assert_array_equal(t, want_t)


def run_child(code, **kw):
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


def test_ctrl_c_interrupts_a_long_call():
    child = run_child(f"""
        import sys, time, numpy as np, viclip
        # One caption per text batch: a long call of many batches, with little memory.
        m = viclip.ViClip.from_files({str(TINY_WEIGHTS)!r}, {str(TINY_CONFIG)!r}, text_batch_size=1)
        texts = ["a dog plays in the snow"] * 1000000
        print("ready", flush=True)
        t = time.perf_counter()
        try:
            m.embed_texts(texts)
            print("finished", flush=True)
        except KeyboardInterrupt:
            print("interrupted after %.2f s" % (time.perf_counter() - t), flush=True)
    """)
    assert child.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert out.startswith("interrupted"), (out, err)
    # Between two batches: well under a second after the signal.
    assert float(out.split()[2]) < 3.0, out


def test_ctrl_c_stops_a_stream_and_its_scoring_thread():
    # Captions in batches of 64, clips one at a time: after the first 64 results, the next one
    # needs 64 more clips. Ctrl-C while waiting for it must stop the scoring thread at its next
    # clip batch, not after those 64, and end the stream.
    child = run_child(f"""
        import itertools, numpy as np, viclip
        m = viclip.ViClip.from_files({str(TINY_WEIGHTS)!r}, {str(TINY_CONFIG)!r})
        frames = (np.arange(8 * 24 * 32 * 3) % 251).astype(np.uint8).reshape(8, 24, 32, 3)
        pulled = 0
        def items():
            global pulled
            for i in itertools.count():  # endless: only Ctrl-C ends this stream
                pulled = i + 1
                yield (frames, "a caption")
        s = m.score_stream(items(), batch_size=1, text_batch_size=64, decode_threads=1)
        got = 0
        try:
            for r in s:
                assert r.ok, r.error
                got += 1
                if got == 64:
                    print("ready", flush=True)
        except KeyboardInterrupt:
            at = pulled
            s.close()  # returns once the scoring thread has ended
            after = pulled
            print("interrupted", got, at, after, flush=True)
            try:
                next(s)
                print("still iterating", flush=True)
            except StopIteration:
                print("stopped", flush=True)
    """)
    assert child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    lines = out.split("\n")
    assert lines[0].startswith("interrupted") and lines[1] == "stopped", (out, err)
    got, at, after = map(int, lines[0].split()[1:])
    assert 64 <= got < 128, out
    # The pipeline reads a few clips ahead of the model; far fewer than the 64 the next result needs.
    assert after - at <= 16, out


def test_fork_after_use_is_refused_in_the_child(model, captions):
    model.embed_texts(captions)  # the thread pools run in this process now
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what happened through the pipe, never return into pytest
        code = 1
        try:
            os.close(r)
            try:
                model.embed_texts(captions)
                msg = b"ran"
            except viclip.ForkError as e:
                msg = b"ForkError: " + str(e).encode()
            os.write(w, msg)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        msg = f.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert msg.startswith("ForkError") and "spawn" in msg, msg
    # The parent is unaffected.
    assert model.embed_texts(captions[:1]).shape == (1, 48)


def test_fork_warns_in_the_child():
    child = run_child(f"""
        import os, warnings, viclip
        m = viclip.ViClip.from_files({str(TINY_WEIGHTS)!r}, {str(TINY_CONFIG)!r})
        m.embed_texts(["a dog"])
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            pid = os.fork()
            if pid == 0:
                os._exit(0 if any("spawn" in str(x.message) for x in w) else 3)
        _, status = os.waitpid(pid, 0)
        print(os.WEXITSTATUS(status))
    """)
    out, err = child.communicate(timeout=60)
    assert out.strip() == "0", (out, err)


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_rss_stable_over_2000_calls(model, captions, inputs):
    images = inputs["images"][:1]

    def calls(n):
        for _ in range(n):
            model.embed_texts(captions[:2])
            model.tokenize(captions[:2])
            model.embed_images(images)  # the video tower at T = 1: the cheapest pass through it

    calls(200)
    before = rss_mb()
    calls(2000)
    grown = rss_mb() - before
    assert grown < 16, f"RSS grew {grown:.1f} MB over 2000 calls"
