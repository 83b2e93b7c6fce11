"""Post-training conversion of a live Keras model to TFLite, with the known traps caught.

Modes: `float` (no quantization), `dynamic` (int8 weights, float activations), `float16`
(float16 weights) and `int8` (int8 weights and activations, calibrated on representative inputs;
inputs and outputs stay float/int64 so callers feed the same arrays).

The traps (platform facts, checked here):
- A SavedModel holding the Keras 3 model as a tf.Module attribute converts to a file WITHOUT
  weights (VAR_HANDLE/READ_VARIABLE ops that read nothing: NaNs at run time). Conversion here
  goes from concrete functions over a module that tracks the raw tf.Variables, and every result is
  checked: variable ops left in the file, or fewer weight bytes than the model has, refuse it.
- Recurrent layers with `unroll=False` leave a while loop over TensorLists that does not convert
  with a dynamic batch; tasks trace their lite signatures with the recurrent layers unrolled.
- Ops outside the TFLite builtins would need the Flex delegate, which the interpreter here lacks:
  only builtins are allowed, and a conversion that needs more is refused naming the ops.
- Full-int8 calibration crashes on while loops (GRU): int8 is refused for a model whose float
  conversion holds a WHILE op.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from trainers.runtime.errors import RunError

MODES = ("float", "dynamic", "float16", "int8")
# The least bytes a weight takes in each mode (int8 weights: 1 byte).
_BYTES_PER_WEIGHT = {"float": 4, "dynamic": 1, "float16": 2, "int8": 1}
_VARIABLE_OPS = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"}


class ConversionError(RunError):
    """A model that cannot be converted, or converted into something that would not work."""


def op_names(content: bytes) -> set[str]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    return {op["op_name"] for op in interpreter._get_ops_details()}


def _weights_module(model):
    import tensorflow as tf

    module = tf.Module()
    # The raw tf.Variables, not the Keras wrappers: what the converter freezes into constants.
    module.weights = [w.value for w in model.weights]
    return module


def convert(
    name: str,
    model,
    functions: dict[str, Callable],
    mode: str,
    representative: Callable[[], Iterable] | None = None,
) -> bytes:
    """The .tflite bytes of `functions` ({signature name: tf.function with an input signature})
    over `model`'s weights, in `mode`; `name` names the model in every error."""
    import tensorflow as tf

    if mode not in MODES:
        raise ConversionError(f"{name}: unknown quantization {mode!r}; choose from {', '.join(MODES)}")
    if mode == "int8" and representative is None:
        raise ConversionError(f"{name}: int8 needs representative data to calibrate on (--data)")
    module = _weights_module(model)
    concrete = [function.get_concrete_function() for function in functions.values()]
    converter = tf.lite.TFLiteConverter.from_concrete_functions(concrete, module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if mode != "float":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        single = next(iter(functions)) if len(functions) == 1 else None

        def samples():
            for signature, inputs in representative():
                # One function converts to the single signature `serving_default`.
                yield ("serving_default" if signature == single else signature), inputs

        converter.representative_dataset = samples
    try:
        content = converter.convert()
    except Exception as exc:  # the converter raises its own ConverterError and plain ones
        raise ConversionError(f"{name}: TFLite conversion ({mode}) failed: {_converter_reason(exc)}") from None
    if len(functions) > 1:  # several functions: each signature is named after its Python function
        from ai_edge_litert.interpreter import Interpreter

        found = set(Interpreter(model_content=content).get_signature_list())
        if found != set(functions):
            raise ConversionError(f"{name}: signatures {sorted(found)} after conversion, expected {sorted(functions)}")
    return content


def _converter_reason(exc: Exception) -> str:
    text = str(exc)
    flex = sorted(set(re.findall(r"'(tf\.[A-Za-z0-9_]+)'", text)))
    if "Select TF ops" in text or "SELECT_TF_OPS" in text or "Flex" in text:
        return (
            f"it needs TensorFlow ops outside the TFLite builtins ({', '.join(flex) or 'see the converter log'}), "
            "which only the Flex delegate runs, and the interpreter here has none"
        )
    first = next((line for line in text.splitlines() if "error:" in line), text.splitlines()[0] if text else "")
    return first.strip()[:400] or type(exc).__name__


def check_weights(name: str, content: bytes, parameters: int, mode: str) -> set[str]:
    """Refuse a converted model that lost its weights; returns its op names."""
    ops = op_names(content)
    left = sorted(ops & _VARIABLE_OPS)
    if left:
        raise ConversionError(
            f"{name}: the {mode} .tflite holds no weights: it reads variables ({', '.join(left)}) that the "
            "converter did not freeze (a Keras 3 model tracked as a tf.Module attribute); it would answer NaN"
        )
    least = parameters * _BYTES_PER_WEIGHT[mode] * 0.9
    if len(content) < least:
        raise ConversionError(
            f"{name}: the {mode} .tflite is {len(content):,} bytes, less than its {parameters:,} weights take "
            f"({int(least):,} bytes at least): the weights are missing"
        )
    return ops


def check_int8(name: str, float_ops: set[str]) -> None:
    if "WHILE" in float_ops:
        raise ConversionError(
            f"{name}: int8 refused: the model runs a while loop (a recurrent layer that is not unrolled), and "
            "full-int8 calibration of while loops crashes the calibrator; use dynamic or float16"
        )
