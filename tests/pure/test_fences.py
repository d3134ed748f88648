"""The one code-fence module: a table of tricky inputs per helper."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airloom.formats.fences import (
    fenced_blocks,
    first_fenced_block,
    is_fence_line,
    strip_fence_lines,
    trim_edge_fences,
    unwrap_fence,
)


@pytest.mark.parametrize(
    ("line", "fence"),
    [
        ("```", True),
        ("   ```python   ", True),
        ("~~~yaml", True),
        ("````c++", True),
        ("```c#", True),
        ("```objective-c", True),
        ("```python title=example.py", True),
        ("``", False),
        ("```x```", False),
        ("text ```", False),
        ("    code()", False),
    ],
)
def test_fence_lines(line: str, fence: bool) -> None:
    assert is_fence_line(line) is fence


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```json\n{}\n```", "{}\n"),
        ("A:\n```\nB\n```\nC", "A:\nB\nC"),
        ("no fences\nhere", "no fences\nhere"),
        ("  ~~~  \nx\n~~~", "x\n"),
        ("inline ``` stays", "inline ``` stays"),
    ],
)
def test_strip_fence_lines(text: str, expected: str) -> None:
    assert strip_fence_lines(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```\nx = 1\n```", "x = 1"),
        ("yes\n```", "yes"),
        ("```yaml\nkey: value", "key: value"),
        ("```\n```\nboth\n```\n```", "both"),
        ("middle\n```\nkept\n```\nend", "middle\n```\nkept\n```\nend"),
    ],
)
def test_trim_edge_fences(text: str, expected: str) -> None:
    assert trim_edge_fences(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('```json\n{"score": 90}\n```', '{"score": 90}'),
        ('```json\n{"score": 90}', '```json\n{"score": 90}'),  # unclosed: not unwrapped
        ("```\na\n```\nb", "```\na\n```\nb"),  # more after the block
        ("plain", "plain"),
    ],
)
def test_unwrap_fence_takes_only_a_whole_closed_block(text: str, expected: str) -> None:
    assert unwrap_fence(text) == expected


def test_blocks_close_on_a_bare_fence_of_the_same_kind_at_least_as_long() -> None:
    text = "````md\n```python\nx\n```\n````\n~~~\ny\n```\n~~~\n```js\nunclosed()"
    assert list(fenced_blocks(text)) == [
        ("md", "```python\nx\n```"),
        ("", "y\n```"),
        ("js", "unclosed()"),
    ]
    assert first_fenced_block("Here:\r\n```sh\r\necho hi\r\n```") == "echo hi"
    assert first_fenced_block("no block") is None


@given(st.text(alphabet=st.sampled_from("`~ \nab#+-"), max_size=60))
def test_helpers_never_fail_and_never_grow_text(text: str) -> None:
    assert len(strip_fence_lines(text)) <= len(text)
    assert len(trim_edge_fences(text)) <= len(text)
    assert len(unwrap_fence(text)) <= len(text)
    for _, content in fenced_blocks(text):
        assert len(content) <= len(text)
