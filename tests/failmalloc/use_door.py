#!/usr/bin/env python3
"""Rewrites bare allocator calls in src/ into the allocation door (ezr_alloc.h): malloc( becomes
ezr_malloc(, and so on, and the file includes ezr_alloc.h. Idempotent; prints what it changed.
With --check it changes nothing and fails, naming each, if any allocator call outside the door
is left in src/ (the wider set: strndup, asprintf, posix_memalign... have no door, so they must
not be used at all). Usage: tests/failmalloc/use_door.py [--check] [SRC_DIR]"""
import pathlib
import re
import sys

CALL = re.compile(r'(?<![\w.>])(malloc|calloc|realloc|strdup)\s*\(')
BARE = re.compile(r'(?<![\w.>])(malloc|calloc|realloc|reallocarray|strdup|strndup|asprintf|'
                  r'vasprintf|posix_memalign|aligned_alloc|memalign|valloc|pvalloc)\s*\(')
INCLUDE = re.compile(r'#include "(ezr_\w+\.h)"')


def add_include(lines, own):
    if any(l.strip() == '#include "ezr_alloc.h"' for l in lines):
        return lines
    project = [i for i, l in enumerate(lines)
               if INCLUDE.match(l) and INCLUDE.match(l).group(1) != own]
    new = '#include "ezr_alloc.h"\n'
    for i in project:
        if INCLUDE.match(lines[i]).group(1) > 'ezr_alloc.h':
            return lines[:i] + [new] + lines[i:]
    if project:
        return lines[:project[-1] + 1] + [new] + lines[project[-1] + 1:]
    # No project include but the file's own header: a block of its own after the last include.
    last = max(i for i, l in enumerate(lines) if l.startswith('#include'))
    return lines[:last + 1] + ['\n', new] + lines[last + 1:]


def code_of(line):
    """The line without a comment that starts it or ends it (calls in comments are words)."""
    if line.lstrip().startswith(('/*', '*')):
        return ''
    return line.split('//')[0].split('/*')[0]


def sources(src):
    return [p for p in sorted(list(src.glob('*.c')) + list(src.glob('*.h')))
            if not p.name.startswith('ezr_alloc.')]


def check(src):
    bare = [f'{p}:{i}: {l.strip()}' for p in sources(src)
            for i, l in enumerate(p.read_text().splitlines(), 1) if BARE.search(code_of(l))]
    for b in bare:
        print(f'# bare allocator call outside ezr_alloc.h: {b}')
    print('1..1')
    print(('not ok' if bare else 'ok') + ' 1 - every allocation in src/ goes through ezr_alloc.h')
    return 1 if bare else 0


def main():
    args = sys.argv[1:]
    if args[:1] == ['--check']:
        return check(pathlib.Path(args[1] if len(args) > 1 else 'src'))
    src = pathlib.Path(args[0] if args else 'src')
    for path in sources(src):
        text = path.read_text()
        lines = text.splitlines(keepends=True)
        changed = 0
        for i, l in enumerate(lines):
            code = code_of(l)
            if not code:
                continue
            new, n = CALL.subn(lambda m: 'ezr_' + m.group(1) + '(', code)
            if n:
                lines[i] = new + l[len(code):]
                changed += n
        if changed:
            lines = add_include(lines, path.stem + '.h')
            path.write_text(''.join(lines))
            print(f'{path}: {changed} call(s)')
    return 0


sys.exit(main())
