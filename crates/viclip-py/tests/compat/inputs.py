"""The inputs of the compat reference values (generate.py) and of tests/test_compat.py."""

import numpy as np

# Captions of the demo's kind: one scene, several near descriptions; one longer than 32 tokens
# (truncated by the model) and one repeated (the demo's dict keeps one entry per text).
CAPTIONS = [
    "A dog runs across a snowy yard chasing a red ball.",
    "A man in a grey coat pulls a sled through the snow.",
    "A woman shovels snow from the path in front of her house.",
    "Two children build a snowman next to a wooden fence.",
    "A cat sleeps on a windowsill while snow falls outside.",
    "A person in a blue jacket walks a dog on a leash among the trees.",
    "Cars drive slowly along a street covered in fresh snow at night.",
    "A chef chops vegetables in a bright kitchen.",
    "Surfers ride large waves at sunset on a crowded beach, while seagulls circle above the water "
    "and people watch from the pier, taking photographs of the orange sky and the glittering sea.",
    "Snow, ice & wind: a storm over the mountains!",
    "A dog runs across a snowy yard chasing a red ball.",
]


def frames(kind: str) -> list:
    """Synthetic BGR uint8 frames (as OpenCV reads a video), from integer arithmetic only: a moving
    pattern plus a hash that stands in for noise. `a`: 27 frames of 90x160 (upsampled to 224);
    `b`: 13 frames of 250x300 (downsampled)."""
    n, h, w = {"a": (27, 90, 160), "b": (13, 250, 300)}[kind]
    t, y, x, c = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    t, y, x, c = (a.astype(np.int64) for a in (t, y, x, c))
    pattern = (3 * x + 5 * y + 11 * t * (c + 1) + 60 * c) % 256
    noise = ((x * 73856093) ^ (y * 19349663) ^ (t * 83492791) ^ (c * 2654435761)) % 61
    v = (pattern * 3 + noise * 4) // 4 % 256
    return [np.ascontiguousarray(f.astype(np.uint8)) for f in v]
