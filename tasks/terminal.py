"""What may reach the operator's terminal: text with no control character but tab and newline.

Host output (a command's lines, a step's detail, a release's status, a lock's message, an
error's tail) is text the host chose. Printed as it is, an escape sequence in it could move
the cursor and overwrite what the operator reads, retitle the window, or put text on the
clipboard (OSC 52) for the next paste into a root shell; a carriage return could print a
line over another; a bidi override could show a name backwards. So everything printed goes
through :func:`safe` last (after masking):

- tab and newline stay;
- a carriage return goes (``\\r\\n`` line ends become ``\\n``; no line is printed over);
- every other C0 control, DEL and every C1 control (U+0080–U+009F: a terminal may read
  U+009B as CSI) is shown as its escape, ``\\x1b``, so the operator sees that something was
  there and nothing acts on it;
- the bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) are shown as
  ``\\u202e``: they reorder what follows. (The plain marks U+200E/U+200F stay: they only
  affect neutral characters next to them.)
"""

from __future__ import annotations

_VISIBLE = {
    **{c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F)},
    **{c: f"\\x{c:02x}" for c in range(0x80, 0xA0)},
    **{c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))},
}
_TABLE = str.maketrans({**_VISIBLE, 0x0D: None})


def safe(text: str) -> str:
    """``text`` as it may be printed: no control character acts (the rule above)."""
    if text.isascii() and text.isprintable():  # the usual line: nothing to do
        return text
    return text.translate(_TABLE)
