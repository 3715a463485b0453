"""The graph behind a tensor as Graphviz DOT text: one box per op, one ellipse per leaf.

    print(tg.autograd.to_dot(loss))     # paste into `dot -Tpng` or an online viewer
"""


def to_dot(tensor, name="loss"):
    lines = ["digraph tinygen {", '  rankdir="BT";', '  node [fontname="Helvetica", fontsize=10];']
    ids = {}

    def nid(obj):
        if id(obj) not in ids:
            ids[id(obj)] = f"n{len(ids)}"
        return ids[id(obj)]

    def desc(t):
        return f"{tuple(t.shape)} {t.dtype.name}"

    root = tensor
    out_id = nid(root)
    lines.append(f'  {out_id} [label="{name}\\n{desc(root)}", shape=ellipse, style=filled, fillcolor="#c8e6c9"];')
    if root.grad_fn is None:
        lines.append("}")
        return "\n".join(lines)
    fn_id = nid(root.grad_fn)
    lines.append(f"  {fn_id} -> {out_id};")
    stack, seen = [root.grad_fn], {id(root.grad_fn)}
    while stack:
        fn = stack.pop()
        shapes = getattr(fn, "_out_meta", None)
        lines.append(f'  {nid(fn)} [label="{type(fn).__name__}", shape=box, style=filled, fillcolor="#bbdefb"];')
        for t in getattr(fn, "inputs", ()):
            if t is None:
                continue
            if t.grad_fn is None:
                leaf = nid(t)
                if id(t) not in seen:
                    seen.add(id(t))
                    lines.append(f'  {leaf} [label="leaf\\n{desc(t)}", shape=ellipse];')
                lines.append(f'  {leaf} -> {nid(fn)} [label="{desc(t)}"];')
            else:
                p = t.grad_fn
                lines.append(f'  {nid(p)} -> {nid(fn)} [label="{desc(t)}"];')
                if id(p) not in seen:
                    seen.add(id(p))
                    stack.append(p)
    lines.append("}")
    return "\n".join(lines)
