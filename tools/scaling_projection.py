#!/usr/bin/env python3
"""Projects data-parallel step time and efficiency for N nodes (docs/distributed.md).

Model (weak scaling: every node keeps its batch b, the global batch is N*b):
    T(N) = t_compute(b) + T_allreduce(N)
    T_allreduce(N) = 2 (N-1)/N * S / bandwidth + 2 (N-1) * latency      (ring all-reduce)
t_compute is MEASURED on one node of this kind (tools/bench_data_parallel.sh, 1 process x 2
threads); S is the gradient size in bytes; the network figures are ASSUMED (no second machine
here). Efficiency = t_compute / T(N); samples/s = N * b / T(N).

    tools/scaling_projection.py --params 268978 --compute-ms 32:0.99 256:4.59
"""
import argparse

NETWORKS = {  # name: (bandwidth in bytes/s, latency in s), assumed
    "10 GbE (1.1 GB/s, 30 us)": (1.1e9, 30e-6),
    "100 Gb/s InfiniBand (11 GB/s, 2 us)": (11e9, 2e-6),
}


def allreduce_seconds(nodes, size_bytes, bandwidth, latency):
    if nodes == 1:
        return 0.0
    return 2 * (nodes - 1) / nodes * size_bytes / bandwidth + 2 * (nodes - 1) * latency


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=int, required=True, help="trainable parameters (float32)")
    parser.add_argument("--compute-ms", nargs="+", required=True,
                        help="BATCH:MS pairs, the measured median step of one node")
    parser.add_argument("--nodes", type=int, nargs="+", default=[2, 8, 64])
    args = parser.parse_args()
    size = 4 * args.params
    print(f"gradient: {args.params:,} floats = {size / 1e6:.3f} MB\n")
    print("| network | batch per node | nodes | all-reduce ms | step ms | efficiency | samples/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (bandwidth, latency) in NETWORKS.items():
        for pair in args.compute_ms:
            batch, ms = pair.split(":")
            batch, compute = int(batch), float(ms) / 1e3
            for nodes in args.nodes:
                ar = allreduce_seconds(nodes, size, bandwidth, latency)
                step = compute + ar
                print(f"| {name} | {batch} | {nodes} | {ar * 1e3:.2f} | {step * 1e3:.2f} | "
                      f"{compute / step:.0%} | {nodes * batch / step:,.0f} |")


if __name__ == "__main__":
    main()
