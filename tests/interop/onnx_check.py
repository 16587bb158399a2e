"""onnx.checker for keel's ONNX export: /usr/bin/python3 onnx_check.py MODEL.onnx [...]

Runs onnx.checker.check_model (full_check: also shape inference) and prints the IR version,
opsets and node types, so the test log shows what was exported. Exit 1 on any checker error."""
import sys

import onnx


def main(paths):
    for path in paths:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        ops = [n.op_type for n in model.graph.node]
        opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
        print(f"{path}: ok (IR {model.ir_version}, opsets {opsets}, nodes {ops})")


if __name__ == "__main__":
    main(sys.argv[1:])
