#!/usr/bin/env bash
# scripts/bench engine [--iterations N] [--repeats N] [--warm-up N] [--rounds N]
#
# Timbre's CNN engine against PyTorch CPU and ONNX Runtime CPU, same weights, same batch, same
# run. The default network (ResNet-SE, 50 genres, base 64, blocks [2,3,2]) on a batch of 32
# log-mel chunks of 128×128:
#   inference   chunks/s, eval mode: Timbre, PyTorch (torch.inference_mode, default threads),
#               ONNX Runtime (the model exported by torch.onnx, opset 17)
#   train step  samples/s of zero_grad → forward → BCE-with-logits → backward → AdamW: Timbre, PyTorch
#   GFLOP/s     Timbre's effective rate (the model's FLOPs from torch's FlopCounterMode, ×3 for a
#               train step, over the time taken) against cblas_sgemm's measured rate on 2048²
#               matrices (OpenBLAS with its own threads on every core), with numpy's sgemm as a
#               cross-check. The peak is measured on the OpenBLAS kernel set Timbre runs on (the best
#               this CPU supports: `timbre` restarts itself on it where OpenBLAS chose a weaker one),
#               which the header names. Timbre's 3×3 convolutions use Winograd's minimal filtering,
#               F(4×4, 3×3) in inference (4× fewer multiplies than the model's FLOP count) and
#               F(2×2, 3×3) in training (2.25× fewer), so the effective rate can pass the sgemm peak.
#   memory      Timbre's RSS after warm-up and after N inference batches, and VmHWM (peak)
#   LSTM        the CNN + LSTM's recurrent layer alone (configs/cnn_lstm.yaml's sizes: 96 inputs,
#               128 hidden, bidirectional, 27 steps, 32 sequences): Timbre's `LSTM` against
#               PyTorch's nn.LSTM, inference and forward+backward, sequences/s and the ratio
# Timbre times --iterations inference batches (default 50, to keep the default run to a few
# minutes on 2 cores; --iterations 1000 for the full memory-growth check) and --repeats train
# steps; the peers time --repeats batches each (default 5). All report medians after --warm-up
# untimed batches (default 2); also settable as BENCH_ITERATIONS, BENCH_REPEATS, BENCH_WARM_UP. The logits are compared first: Timbre's,
# PyTorch's and ONNX Runtime's must agree, or the figures compare different computations.
# --rounds N (BENCH_ROUNDS, default 3): the peers and Timbre run one after the other N times, so
# that a noisy spell of a shared machine falls on both; each ratio is the median of the N rounds'
# own ratios (all listed), each s/batch the median of the rounds' medians.
# Python: $TIMBRE_PYTHON if set, else tools/.venv-bench from tools/bench/requirements-engine.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"

iterations="${BENCH_ITERATIONS:-50}"
repeats="${BENCH_REPEATS:-5}"
warm_up="${BENCH_WARM_UP:-2}"
rounds="${BENCH_ROUNDS:-3}"
while [ $# -gt 0 ]; do
  case "$1" in
    --iterations) iterations="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --warm-up) warm_up="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    *) echo "usage: scripts/bench engine [--iterations N] [--repeats N] [--warm-up N] [--rounds N]" >&2; exit 2 ;;
  esac
done
out=bench-results/engine

if [ -n "${TIMBRE_PYTHON:-}" ]; then
  python="$TIMBRE_PYTHON"
else
  python=tools/.venv-bench/bin/python
  if ! [ -x "$python" ] || ! "$python" -c "import torch, onnx, onnxruntime, safetensors" 2>/dev/null; then
    echo "== making tools/.venv-bench from tools/bench/requirements-engine.txt" >&2
    python3 -m venv tools/.venv-bench
    tools/.venv-bench/bin/pip install -q -r tools/bench/requirements-engine.txt
  fi
fi

echo "== building timbre-bench (release)" >&2
swift build -c release --product timbre-bench >&2
bench="$(swift build -c release --show-bin-path)/timbre-bench"

mkdir -p "$out"
echo "== weights, input batch and Timbre's logits: $out/weights.safetensors" >&2
"$bench" bench-engine --write-weights "$out/weights.safetensors" --batch 32 --genres 50

rm -f "$out"/peer-*.json "$out"/timbre-*.json
for round in $(seq 1 "$rounds"); do
  echo "== round $round of $rounds: pytorch + onnxruntime, $repeats repeats after $warm_up warm-up" >&2
  "$python" tools/bench/engine_peer.py "$out/weights.safetensors" --onnx "$out/model.onnx" \
    --repeats "$repeats" --warm-up "$warm_up" > "$out/peer-$round.json"
  echo "== round $round of $rounds: timbre, $iterations inference batches, $repeats train steps after $warm_up warm-up" >&2
  "$bench" bench-engine --weights "$out/weights.safetensors" --iterations "$iterations" \
    --train-steps "$repeats" --warm-up "$warm_up" --json > "$out/timbre-$round.json"
done

echo "== LSTM: timbre-bench bench-lstm and nn.LSTM, $repeats repeats after $warm_up warm-up" >&2
"$bench" bench-lstm --write-weights "$out/lstm.safetensors"
"$python" tools/bench/lstm_peer.py "$out/lstm.safetensors" --repeats "$repeats" --warm-up "$warm_up" > "$out/lstm_peer.json"
"$bench" bench-lstm --weights "$out/lstm.safetensors" --repeats "$repeats" --warm-up "$warm_up" > "$out/lstm_timbre.json"

"$python" - "$out" "$rounds" <<'PY'
import json, os, platform, statistics, sys

out, rounds = sys.argv[1], int(sys.argv[2])
peers = [json.load(open(f"{out}/peer-{r}.json")) for r in range(1, rounds + 1)]
timbres = [json.load(open(f"{out}/timbre-{r}.json")) for r in range(1, rounds + 1)]
# The first round's file for what does not vary (versions, logits, memory); the median over
# rounds for every time and rate.
peer, timbre = dict(peers[0]), dict(timbres[0])
for merged, runs in [(peer, peers), (timbre, timbres)]:
    for key in merged:
        if key.endswith("_median_s") or key == "sgemm_gflops_median":
            merged[key] = statistics.median(run[key] for run in runs)
batch = timbre["batch"]
flops = peer["forward_flops_per_chunk"]

def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"

print("Engine: ResNet-SE (50 genres, base 64, blocks [2,3,2]), batch 32 × 1×128×128, float32, CPU")
print(f"{timbre['parameters']:,} parameters; {flops / 1e9:.3f} GFLOP forward per chunk (torch FlopCounterMode), ×3 for a train step")
print(f"machine: {cpu()}, {os.cpu_count()} cores; timbre {timbre['threads']} threads, torch {peer['torch']} "
      f"{peer['torch_threads']} threads, onnxruntime {peer['onnxruntime']} default threads")
print(f"OpenBLAS core: {timbre['blas_core']} ({timbre['blas_core_reason']}); Timbre's GEMMs and the sgemm peak run on it")
print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} — on a shared or busy machine "
      "the figures are indicative only; compare ratios from the same run")
print()
print("same weights, same batch — eval logits (max |logit| %.3f):" % peer["logits_max_abs"])
print(f"  max |PyTorch − Timbre|       {peer['logits_max_abs_diff_torch_vs_timbre']:.2e}")
print(f"  max |ONNX Runtime − PyTorch| {peer['logits_max_abs_diff_ort_vs_torch']:.2e}")
print(f"  max |ONNX Runtime − Timbre|  {peer['logits_max_abs_diff_ort_vs_timbre']:.2e}")
print(f"  Timbre reloaded from the file vs as written: {timbre['logits_max_abs_diff_vs_written']:.2e}")
print()

def rate(seconds):
    return batch / seconds

def gflops(seconds, factor):
    return factor * flops * batch / seconds / 1e9

rows = [
    ("inference", "timbre", timbre["inference_median_s"], len(timbre["inference_s"]), 1),
    ("inference", "pytorch", peer["torch_inference_median_s"], len(peer["torch_inference_s"]), 1),
    ("inference", "onnxruntime", peer["ort_inference_median_s"], len(peer["ort_inference_s"]), 1),
    ("train step", "timbre", timbre["train_median_s"], len(timbre["train_s"]), 3),
    ("train step", "pytorch", peer["torch_train_median_s"], len(peer["torch_train_s"]), 3),
]
print(f"{'':12}{'':14}{'median s/batch':>16}{'per s':>10}{'GFLOP/s':>10}{'runs':>6}")
for what, tool, s, n, factor in rows:
    print(f"{what:12}{tool:14}{s:16.4f}{rate(s):10.1f}{gflops(s, factor):10.1f}{n:6d}")
print(f"(per s: chunks/s for inference, samples/s for the train step; s/batch: the median of {rounds} rounds' medians,"
      " runs: per round)")
print()
ti = timbre["inference_median_s"]
tt = timbre["train_median_s"]
def verdict(ratio):
    return "met" if ratio >= 1.0 else "not met"
def ratios(peer_key, timbre_key):
    return [p[peer_key] / t[timbre_key] for p, t in zip(peers, timbres)]
for label, peer_key, timbre_key, goal in [("PyTorch, inference:      ", "torch_inference_median_s", "inference_median_s", "target"),
                                          ("ONNX Runtime, inference: ", "ort_inference_median_s", "inference_median_s", "stretch"),
                                          ("PyTorch, train step:     ", "torch_train_median_s", "train_median_s", "target")]:
    each = ratios(peer_key, timbre_key)
    ratio = statistics.median(each)
    print(f"Timbre / {label} {ratio:5.2f}×   ({goal} ≥ 1.0: {verdict(ratio)}; median of the rounds: "
          f"{', '.join(f'{r:.2f}' for r in each)})")
print()
peak = timbre["sgemm_gflops_median"]
if peak > 0:
    n = timbre["sgemm_size"]
    numpy_rate = 2 * n ** 3 / statistics.median(peer["numpy_sgemm_s"]) / 1e9 if peer["numpy_sgemm_s"] else 0
    print(f"sgemm peak, {n}×{n}×{n} (median of 10): {peak:.1f} GFLOP/s cblas_sgemm, OpenBLAS on all cores "
          f"(best {timbre['sgemm_gflops_best']:.1f}); numpy {peer['numpy']} (its own OpenBLAS): {numpy_rate:.1f} GFLOP/s")
    for what, s, factor in [("inference", ti, 1), ("train step", tt, 3)]:
        share = gflops(s, factor) / peak
        print(f"Timbre {what}: {gflops(s, factor):.1f} GFLOP/s effective = {100 * share:.0f} % of the sgemm peak (target ≥ 60 %: {verdict(share / 0.6)})")
    print("(effective: the model's FLOPs over the time taken; Winograd's 3×3 convolutions do fewer)")
    print()
mib = 1 / 1024
growth = timbre["rss_after_loop_kb"] - timbre["rss_after_warm_up_kb"]
print(f"Timbre memory (inference, batch {batch}): RSS {timbre['rss_after_warm_up_kb'] * mib:.1f} MiB after warm-up, "
      f"{timbre['rss_after_loop_kb'] * mib:.1f} MiB after {len(timbre['inference_s'])} batches "
      f"(growth {growth * mib:+.1f} MiB); peak (VmHWM) {timbre['inference_peak_rss_kb'] * mib:.1f} MiB")
print(f"Timbre peak RSS after the train steps: {timbre['train_peak_rss_kb'] * mib:.1f} MiB")
if len(timbre["inference_s"]) < 1000:
    print(f"(the memory loop ran {len(timbre['inference_s'])} batches; scripts/bench engine --iterations 1000 for the full check)")
print()
lp = json.load(open(f"{out}/lstm_peer.json"))
lt = json.load(open(f"{out}/lstm_timbre.json"))
print("LSTM (96 → 2×128, bidirectional, 27 steps, batch 32; configs/cnn_lstm.yaml's recurrent layer):")
print(f"  same weights, same batch: max |PyTorch − Timbre| {lp['output_max_abs_diff_vs_timbre']:.2e} (max |output| {lp['output_max_abs']:.3f})")
print(f"{'':14}{'timbre s/batch':>16}{'pytorch s/batch':>17}{'Timbre / PyTorch':>18}")
for what, key in [("inference", "inference_seconds_per_batch"), ("fwd+bwd", "train_seconds_per_batch")]:
    print(f"  {what:12}{lt[key]:16.4f}{lp[key]:17.4f}{lp[key] / lt[key]:17.2f}×")
PY
