"""A results file made of sections that different scripts rewrite: each script owns the lines
between its BEGIN and END markers and leaves the rest alone."""

import os


def replace_section(path, begin, end, lines):
    """Writes lines (which start with begin and end with end) in place of that section of path,
    or at the end of it when it has none."""
    text = open(path).read() if os.path.exists(path) else ""
    block = "\n".join(lines) + "\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + block
    with open(path, "w") as f:
        f.write(text)
