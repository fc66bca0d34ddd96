"""Export a trained run for deployment, and predict from an export without PyTorch.

- ``headstart.export.run.export_run``: a run -> ONNX (or TorchScript) + int8, checked;
- ``headstart.export.runtime.load_export``: predict from an export folder with ONNX Runtime,
  NumPy and Pillow (``tokenizers`` for text) only.

This package imports nothing on its own, so that the runtime stays free of PyTorch.
"""
