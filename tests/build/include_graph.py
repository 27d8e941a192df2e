#!/usr/bin/env python3
"""The library's include graph: no cycles between its modules, and its subsystems in layers.

A module is one name in one directory of src/lib (X.c and X.h).  Module A depends on module B when A's .c or .h
includes B's header.  Prints every cycle, and every include that goes up the layer order (docs/ARCHITECTURE.md)
other than the known ones below; exits 1 if there is any.
With --dot, prints the subsystem graph in Graphviz form instead; --lib DIR checks another tree."""
import os
import re
import sys

LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "lib")
# The subsystems, lowest first: a module includes headers of its own subsystem or of lower ones.
LAYERS = ["base", "store", "proto", "sandbox", "image", "container", "network", "driver", "runtime", "build"]
# The upward includes the architecture accepts, each for a reason given in docs/ARCHITECTURE.md.
UPWARD_OK = {
    ("container/create", "driver/driver"),
    ("container/create", "network/attach"),
    ("container/create", "network/network"),
    ("container/copy", "driver/driver"),
    ("container/layer", "driver/driver"),
    ("container/lifecycle", "driver/driver"),
    ("container/listing", "driver/driver"),
    ("container/update", "driver/driver"),
    ("image/remove", "container/container"),
    ("sandbox/nsexec", "container/container"),
    ("sandbox/nsexec", "container/runspec"),
    ("sandbox/nsexec", "container/nsmode"),
    ("sandbox/nsexec", "driver/driver"),
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def modules():
    mods = {}
    for sub in sorted(os.listdir(LIB)):
        d = os.path.join(LIB, sub)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            name, ext = os.path.splitext(f)
            if ext in (".c", ".h"):
                mods.setdefault(f"{sub}/{name}", []).append(os.path.join(d, f))
    return mods


def graph(mods):
    deps = {m: set() for m in mods}
    for m, files in mods.items():
        for path in files:
            with open(path, encoding="utf-8") as fh:
                for inc in INCLUDE.findall(fh.read()):
                    target = os.path.splitext(inc)[0]
                    if target != m and target in mods:
                        deps[m].add(target)
    return deps


def cycles(deps):
    """Tarjan's strongly connected components of more than one module (or a module including itself)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(deps[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(deps):
        if v not in index:
            visit(v)
    return out


def upward(deps):
    """Includes from a lower subsystem into a higher one that UPWARD_OK does not list."""
    out = []
    for a in sorted(deps):
        for b in sorted(deps[a]):
            la, lb = a.split("/")[0], b.split("/")[0]
            if la in LAYERS and lb in LAYERS and LAYERS.index(la) < LAYERS.index(lb) and (a, b) not in UPWARD_OK:
                out.append((a, b))
    return out


def main():
    global LIB
    if "--lib" in sys.argv:
        LIB = sys.argv[sys.argv.index("--lib") + 1]
    deps = graph(modules())
    if "--dot" in sys.argv:
        edges = sorted({(a.split("/")[0], b.split("/")[0]) for a in deps for b in deps[a] if a.split("/")[0] != b.split("/")[0]})
        print("digraph isola {")
        for a, b in edges:
            print(f'  "{a}" -> "{b}";')
        print("}")
        return 0
    bad = cycles(deps)
    for comp in bad:
        print("include cycle: " + " -> ".join(comp))
    unknown = [d for d in sorted(os.listdir(LIB)) if os.path.isdir(os.path.join(LIB, d)) and d not in LAYERS]
    for d in unknown:
        print(f"subsystem {d}/ has no place in LAYERS (tests/build/include_graph.py)")
    up = upward(deps)
    for a, b in up:
        print(f"upward include: {a} -> {b} ({a.split('/')[0]} is below {b.split('/')[0]})")
    if "--edges" in sys.argv:
        for a in sorted(deps):
            for b in sorted(deps[a]):
                if a.split("/")[0] != b.split("/")[0]:
                    print(f"{a} -> {b}")
    return 1 if bad or up or unknown else 0


if __name__ == "__main__":
    sys.exit(main())
