"""The README's Python example runs, on the tiny golden model and a generated video."""

import re
import subprocess
import sys

from conftest import REPO, TINY_CONFIG, TINY_WEIGHTS


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("### Python") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs(video):
    code = readme_example()
    assert len(code.strip().splitlines()) == 6
    code = (
        code.replace('"ViClip-InternVid-10M-FLT.pth"', repr(str(TINY_WEIGHTS)))
        .replace('"viclip-l14"', repr(str(TINY_CONFIG)))
        .replace('"video.mp4"', repr(str(video)))
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("span [00:00:00.000"), out.stdout
