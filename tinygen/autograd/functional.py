"""Higher-level derivatives of a function of tensors, as torch.autograd.functional: jacobian,
hessian, vjp, jvp, vhp, hvp, all built on reverse mode (autograd.grad).

    J = tg.autograd.functional.jacobian(lambda x: x.sin() * 2, x)          # (*out, *in)
    out, jv = tg.autograd.functional.jvp(f, (x, y), (vx, vy))

inputs: a Tensor or a tuple of Tensors, passed to func as positional arguments; results are
shaped as PyTorch's (a tuple where the inputs or the outputs were one). jvp and hvp use the
double-backward trick (PyTorch's default too). jacobian builds one row per backward pass:
vectorize=True and strategy="forward-mode" are accepted (and refused, with strict or without
vectorize, as PyTorch's) and give the same values the same way (PyTorch batches the rows with
vmap, or runs forward-mode AD; tinygen has neither). Where tinygen differs:
- PyTorch's vectorized blocks of zeros may require grad (vmap's artefact); tinygen's, as
  PyTorch's unvectorized ones, do not. PyTorch's forward-mode Jacobian nests lists, not tuples,
  and its tensors require grad even without create_graph; tinygen's are tuples without a graph.
- An unknown strategy is a ValueError (PyTorch's is an `assert`: AssertionError, gone under -O).
- Under create_graph (and in hessian, whose inner Jacobian has a graph) a gradient that does not
  depend on the inputs is tied to the graph with a zero derivative (engine.ZeroDerivative), so
  it requires grad, and strict=True does not refuse it where PyTorch's strict mode does.
"""
from __future__ import annotations

from . import function as _function
from .engine import run_backward
from .grad_mode import enable_grad, is_grad_enabled, set_grad_enabled


def _as_tuple(inp, arg_name, fn_name):
    is_tuple = isinstance(inp, tuple)
    inp = inp if is_tuple else (inp,)
    for i, el in enumerate(inp):
        if not isinstance(el, _function.Tensor):
            where = f"the value at index {i}" if is_tuple else f"the given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but {where} has type {type(el)}.")
    return is_tuple, inp


def _tuple_postprocess(res, to_unpack):
    """Undo the tuple wrapping: to_unpack is one flag, or (outputs flag, inputs flag)."""
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs, create_graph, need_graph):
    """Fresh leaves to differentiate against; with create_graph a view keeps the link to the
    caller's graph, so the result is differentiable with respect to the caller's tensors."""
    return tuple(inp.view_as(inp) if create_graph and inp.requires_grad
                 else inp.detach().requires_grad_(need_graph) for inp in inputs)


def _grad_postprocess(inputs, create_graph):
    if isinstance(inputs[0], _function.Tensor):
        return inputs if create_graph else tuple(inp.detach() for inp in inputs)
    return tuple(_grad_postprocess(inp, create_graph) for inp in inputs)


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        what = "tuple " if is_other_tuple else ""
        raise RuntimeError(f"v is a {what}of invalid length: should be {len(other)} but got "
                           f"{len(v)}.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if tuple(el_v.shape) != tuple(el_other.shape):
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be "
                               f"{tuple(el_other.shape)} but got {tuple(el_v.shape)}.")


_INDEPENDENT = {
    "outputs": "Output {i} of the user-provided function does not require gradients. The "
               "outputs must be computed in a differentiable manner from the input when "
               "running in strict mode.",
    "grad_inputs": "The gradient with respect to input {i} is independent of the inputs of the "
                   "user-provided function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided "
                "function with respect to input {i} is independent of the input. This is not "
                "allowed in strict mode.",
    "hessian": "The hessian of the user-provided function with respect to input {i} is "
               "independent of the input. This is not allowed in strict mode.",
}


def _check_requires_grad(inputs, input_type, strict):
    if not strict:
        return
    for i, inp in enumerate(inputs):
        if inp is None:
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if not inp.requires_grad:
            raise RuntimeError(_INDEPENDENT[input_type].format(i=i))


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """autograd.grad over the outputs that require grad (None for an input none reaches)."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs = [o for o, _ in pairs]
    gos = [g if g is not None else o.new_ones(o.shape) for o, g in pairs]   # a 1-element output
    retain = create_graph if retain_graph is None else retain_graph
    return tuple(run_backward(outs, gos, retain, create_graph, inputs=list(inputs),
                              allow_unused=True))


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    res = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The {stage} result for input {i} is independent of the "
                                   "inputs of the user-provided function (strict mode).")
            g = ref.new_zeros(ref.shape)
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(f"The {stage} result for input {i} is independent of the inputs "
                               "of the user-provided function (strict mode, create_graph=True).")
        res.append(g)
    return tuple(res)


def _prepare_v(v, other, is_other_tuple, create_graph, what):
    """v as a tuple checked against `other`; v=None only where `other` is one 1-element
    tensor."""
    if v is not None:
        _, v = _as_tuple(v, "v", what)
        v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
        _validate_v(v, other, is_other_tuple)
        return v
    if len(other) != 1 or other[0].numel() != 1:
        raise RuntimeError(f"The vector v can only be None if the {_V_NONE[what]} a single "
                           "Tensor with a single element.")
    return None


_V_NONE = {"vjp": "user-provided function returns", "jvp": "input to the user-provided function is",
           "vhp": "input to the user-provided function is",
           "hvp": "input to the user-provided function is"}


def _vector_product(outputs, inputs, v, like, strict, create_graph, stage):
    """The last backward of vjp, jvp, vhp and hvp: d outputs / d inputs against v, in the grad
    mode the caller asked for, zeros filled in (shaped as `like`) where there is no path."""
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        return _fill_in_zeros(grad_res, like, strict, create_graph, stage)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at `inputs`, v shaped as the
    outputs (None for one 1-element output)."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs),
                                              "outputs of the user-provided function", "vjp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        v = _prepare_v(v, outputs, is_outputs_tuple, create_graph, "vjp")
    res = _vector_product(outputs, inputs, v, inputs, strict, create_graph,
                          "back")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(res, create_graph), is_inputs_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, v shaped as the inputs, by the
    double-backward trick: J v = d/du (u^T J) v for a dummy u (the backward is linear in u, so
    any u gives the same J v: ones here, zeros in PyTorch)."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        v = _prepare_v(v, inputs, is_inputs_tuple, create_graph, "jvp")
        is_outputs_tuple, outputs = _as_tuple(func(*inputs),
                                              "outputs of the user-provided function", "jvp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        dummies = tuple(out.new_ones(out.shape).requires_grad_(True) for out in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, dummies, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict=strict)
    res = _vector_product(grad_inputs, dummies, v, outputs, strict, create_graph,
                          "back_trick")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(res, create_graph), is_outputs_tuple))


def _jacobian_rows(out, inputs, create_graph, strict, i):
    """d out / d input for each input, one backward pass per element of out."""
    rows = tuple([] for _ in inputs)
    flat = out.reshape(-1)
    for j in range(out.numel()):
        vj = _autograd_grad((flat[j],), inputs, retain_graph=True, create_graph=create_graph)
        for k, (row, g, inp) in enumerate(zip(rows, vj, inputs)):
            if g is None:
                if strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is "
                                       f"independent of input {k}. This is not allowed in "
                                       "strict mode.")
                g = inp.new_zeros(inp.shape)
            elif strict and create_graph and not g.requires_grad:
                raise RuntimeError(f"The jacobian of the user-provided function is independent "
                                   f"of input {k}. This is not allowed in strict mode when "
                                   "create_graph=True.")
            row.append(g)
    return tuple(_stack(row, inp).reshape(tuple(out.shape) + tuple(inp.shape))
                 for row, inp in zip(rows, inputs))


def _stack(row, inp):
    if not row:                                 # a 0-element output: an empty Jacobian
        return inp.new_zeros((0,) + tuple(inp.shape))
    from ..ops.shape import stack  # lazy: autograd sits below ops in the import layers
    return stack(row, dim=0)


def _check_options(strategy, create_graph, strict, vectorize):
    """jacobian's refusals of option sets, in PyTorch's order (forward-mode is accepted only
    where PyTorch runs it: vectorized, without create_graph or strict; tinygen then computes
    the same values by reverse mode)."""
    if strategy == "forward-mode" and create_graph:
        raise NotImplementedError("torch.autograd.functional.jacobian: `create_graph=True` and "
                                  "`strategy=\"forward-mode\"` are not supported together (yet)"
                                  ". Please either set `create_graph=False` or "
                                  "`strategy=\"reverse-mode\"`.")
    if strategy == "forward-mode" and strict:
        raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and `strategy="
                           "\"forward-mode\"` are not supported together (yet). Please either "
                           "set `strict=False` or `strategy=\"reverse-mode\"`.")
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse "
                                  "Hessian is only implemented for `vectorize=True`.")


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of func at inputs: for output i and input j a tensor of shape
    out_i.shape + in_j.shape, nested in tuples as the outputs / inputs were."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                         'Hint: If your function has more outputs than inputs, "forward-mode" '
                         'tends to be more performant. Otherwise, prefer to use "reverse-mode".')
    _check_options(strategy, create_graph, strict, vectorize)
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs),
                                              "outputs of the user-provided function",
                                              "jacobian")
        _check_requires_grad(outputs, "outputs", strict=strict)
        if vectorize and strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                               "`vectorized=True` are not supported together. Please either "
                               "set `strict=False` or `vectorize=False`.")
        jac = tuple(_jacobian_rows(out, inputs, create_graph, strict, i)
                    for i, out in enumerate(outputs))
        jac = _grad_postprocess(jac, create_graph)
    return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def _scalar_output(func, fn_name, strict):
    """func checked to return one 1-element Tensor, returned squeezed (hessian's inner
    function)."""
    def single(*inp):
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", fn_name)
        _check_requires_grad(t_out, "outputs", strict=strict)
        if is_out_tuple or not isinstance(out, _function.Tensor):
            raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                               "contain a single element")
        return out.squeeze()
    return single


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a function returning one 1-element Tensor: the Jacobian of its
    gradient, shaped in_i.shape + in_j.shape for each pair of inputs."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    single = _scalar_output(func, "hessian", strict)

    def jac_func(*inp):
        jac = jacobian(single, inp, create_graph=True)
        _check_requires_grad(jac if isinstance(jac, tuple) else (jac,), "jacobian",
                             strict=strict)
        return jac
    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict,
                   vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def _first_grad(func, inputs, v, create_graph, strict, fn_name):
    """The common start of vhp and hvp: fresh inputs, v checked, the output and its gradient
    (with a graph, to differentiate again)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
    v = _prepare_v(v, inputs, is_inputs_tuple, create_graph, fn_name)
    is_outputs_tuple, outputs = _as_tuple(func(*inputs),
                                          "outputs of the user-provided function", fn_name)
    _check_requires_grad(outputs, "outputs", strict=strict)
    if is_outputs_tuple:
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                           "contain a single element")
    jac = _autograd_grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict=strict)
    return is_inputs_tuple, inputs, v, outputs, jac


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H): the vector-Hessian product of a scalar function."""
    with enable_grad():
        is_inputs_tuple, inputs, v, outputs, jac = _first_grad(func, inputs, v, create_graph,
                                                               strict, "vhp")
    res = _vector_product(jac, inputs, v, inputs, strict, create_graph,
                          "double_back")
    return (_grad_postprocess(outputs, create_graph)[0],
            _tuple_postprocess(_grad_postprocess(res, create_graph), is_inputs_tuple))


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): the Hessian-vector product of a scalar function, by the
    double-backward trick (the same as vhp for a twice-differentiable function: H is
    symmetric); the dummy is ones, as in jvp."""
    with enable_grad():
        is_inputs_tuple, inputs, v, outputs, jac = _first_grad(func, inputs, v, create_graph,
                                                               strict, "hvp")
        dummies = tuple(inp.new_ones(inp.shape).requires_grad_(True) for inp in inputs)
        double_back = _autograd_grad(jac, inputs, dummies, create_graph=True)
        _check_requires_grad(jac, "hessian", strict=strict)
    res = _vector_product(double_back, dummies, v, inputs, strict, create_graph,
                          "double_back_trick")
    return (_grad_postprocess(outputs, create_graph)[0],
            _tuple_postprocess(_grad_postprocess(res, create_graph), is_inputs_tuple))


__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]
