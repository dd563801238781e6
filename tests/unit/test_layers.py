#!/usr/bin/env python3
"""The library's modules include each other in no cycle (docs/layers.md).

A module is NAME.c, NAME.h and NAME_priv.h together; an edge is an #include "..." of another
module's file. Fails naming every cycle found, as a path of modules. Usage: test_layers.py SRC_DIR
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(filename):
    base = os.path.basename(filename)
    for suffix in ('_priv.h', '.c', '.h'):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return None


def graph(src):
    edges = {}
    for name in sorted(os.listdir(src)):
        mod = module_of(name)
        if mod is None or not name.endswith(('.c', '.h')):
            continue
        with open(os.path.join(src, name), encoding='utf-8') as f:
            text = f.read()
        deps = edges.setdefault(mod, set())
        for inc in INCLUDE.findall(text):
            if os.path.exists(os.path.join(src, inc)):
                other = module_of(inc)
                if other != mod:
                    deps.add(other)
    return edges


def cycles(edges):
    """The strongly connected components of more than one module (Tarjan), each with its
    shortest cycle through its first module."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            connect(v)
    result = []
    for comp in found:
        # The shortest way from one module of the component back to itself (breadth first).
        start = min(comp)
        came_from, queue, path = {}, [start], None
        while queue and path is None:
            v = queue.pop(0)
            for w in sorted(edges[v]):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    path.reverse()
                    break
                if w in comp and w not in came_from:
                    came_from[w] = v
                    queue.append(w)
        result.append((sorted(comp), path + [start]))
    return result


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..', 'src')
    edges = graph(src)
    found = cycles(edges)
    print('1..1')
    if found:
        for comp, path in found:
            print('# include cycle among %d modules: %s' % (len(comp), ', '.join(comp)))
            print('#   for example %s' % ' -> '.join(path))
        print('not ok 1 - no include cycle among the modules of src/')
        return 1
    print('ok 1 - no include cycle among the %d modules of src/' % len(edges))
    return 0


if __name__ == '__main__':
    sys.exit(main())
