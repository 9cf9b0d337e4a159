#!/usr/bin/env python3
"""Writes the PyTorch golden fixtures of the training engine into Tests/Fixtures/model/.

    TIMBRE_PYTHON=/path/to/python tools/golden/make_model_fixtures.py

Without TIMBRE_PYTHON the script creates tools/.venv with the pinned versions of
tools/golden/requirements-model.txt and re-runs itself there. Every output is
deterministic (seeded, deterministic algorithms, one thread); rerunning rewrites the
same values.

Files (safetensors; config and settings as JSON strings in `__metadata__`):
  resnet_se_tiny.safetensors, baseline_tiny.safetensors
      weights.<name>  state_dict (BN stats randomised so eval mode is a real test;
                      num_batches_tracked as I64)
      input, targets (soft), pos_weight
      eval.logits, eval.embeddings          eval mode, before training
      train.logits, train.embeddings, train.dlogits, loss, grad.<param>
                                            first train-mode forward/backward
      step3.<name>   state_dict after 3 x (zero_grad, train forward, loss, backward, AdamW step)
      losses         the loss of each of the 3 steps
  cnn_lstm_tiny.safetensors   the same for the CNN + LSTM network
  lstm.safetensors       nn.LSTM (2 layers, bidirectional, batch-first) alone: weights.<name>,
                         input, upstream (a fixed dL/d output), output, dinput, grad.<name>,
                         step3.<name> after 3 AdamW steps on L = Σ output·upstream, and the same
                         for a 1-layer unidirectional LSTM under uni.*
  bce.safetensors        BCEWithLogitsLoss values and gradients (with/without pos_weight)
  optimizers.safetensors Adam, AdamW, SGD(+momentum, nesterov) trajectories on fixed gradients
  clip.safetensors       clip_grad_norm_ results
  schedules.safetensors  LR sequences of cosine, step, ReduceLROnPlateau, warm-up + cosine/step
  python_written.safetensors  F32/F16/BF16/I64 tensors written by the safetensors library,
                              with their values as F32 under `<name>.as_f32`
  gradcam_resnet_se.safetensors, gradcam_baseline.safetensors, gradcam_cnn_lstm.safetensors
      weights.<name>  state_dict (BN stats randomised), input (B,1,32,48), logits (eval)
      <stage>.activation, <stage>.gradient  the stage's output and d logit[label] / d output
      <stage>.cam, <stage>.cam_upsampled    Grad-CAM (B,h,w) and bilinear to (B,32,48)
                                            (metadata: label, stages, stage_names)

  relational.safetensors  similarity-preserving distillation (RelationalDistillation):
      alone.embeddings (7,6), alone.teacher (7,4, unit rows), alone.known (7: 1/0),
      alone.loss, alone.grad        L = w·mean_{i≠j known} (cos(e_i,e_j) − t_i·t_j)², w 0.7
      neighbours.loss, neighbours.grad   L = w·mean_i KL(softmax_j(t_i·t_j/τ) ‖ softmax_j(cos(e_i,e_j)/τ)),
                                    w 0.7, τ 0.2, on the same examples
      net.weights.<name>, net.input, net.targets, net.teacher (4,3), net.loss, net.grad.<param>
                                    the tiny ResNet-SE, train mode: BCE + relational (w 0.5)

`make_model_fixtures.py gradcam` writes only the Grad-CAM fixtures; `… relational` only relational.safetensors.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "model"


def ensure_interpreter() -> None:
    """Re-executes under TIMBRE_PYTHON, or under tools/.venv (created on first use)."""
    wanted = os.environ.get("TIMBRE_PYTHON")
    if wanted:
        if not os.environ.get("TIMBRE_REEXEC"):  # venv interpreters are symlinks: compare by flag
            os.environ["TIMBRE_REEXEC"] = "1"
            os.execv(wanted, [wanted, __file__, *sys.argv[1:]])
        return
    venv = ROOT / "tools" / ".venv"
    python = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    if not python.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(venv)])
        subprocess.check_call([str(python), "-m", "pip", "install", "-r",
                               str(ROOT / "tools" / "golden" / "requirements-model.txt")])
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


ensure_interpreter()

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

sys.path.insert(0, str(ROOT / "tools" / "reference"))
from model import make_network  # noqa: E402

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)


def meta(**values) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def save(name: str, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    tensors = {k: v.detach().contiguous().clone() for k, v in tensors.items()}
    save_file(tensors, str(OUT / name), metadata=metadata)
    print(f"wrote {name}: {len(tensors)} tensors, {(OUT / name).stat().st_size} bytes")


# ---------------------------------------------------------------- model fixtures
def model_fixture(file: str, config: dict, seed: int) -> None:
    torch.manual_seed(seed)
    model = make_network(config)
    with torch.no_grad():  # non-trivial BN affine and running stats: eval mode must use them
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.3, 0.3)
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(7)
    batch, genres = 4, config["num_genres"]
    x = torch.randn(batch, config.get("input_channels", 1), 32, 32)
    targets = torch.rand(batch, genres) * 0.8 + 0.1 * (torch.rand(batch, genres) > 0.5)
    pos_weight = torch.rand(genres) * 2.5 + 0.5
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    out = {f"weights.{k}": v.clone() for k, v in model.state_dict().items()}  # state_dict aliases live tensors
    out.update(input=x, targets=targets, pos_weight=pos_weight)

    model.eval()
    with torch.no_grad():
        emb = model.get_embeddings(x)
        out["eval.embeddings"], out["eval.logits"] = emb, model.classifier(emb)

    model.train()
    # eps 1e-3, not 1e-8: some gradients are pure rounding noise (a Linear bias before BatchNorm has
    # a zero gradient in exact arithmetic; dead channels give ~1e-8), and with a tiny eps Adam
    # turns noise into full ±lr steps, so no two implementations could agree after a step. With
    # eps 1e-3 the update is a smooth function of the gradient (Lipschitz lr/eps) and comparable.
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-3, weight_decay=1e-2)
    losses = []
    for step in range(3):
        optimizer.zero_grad()
        emb = model.get_embeddings(x)  # one pass: BN stats must move exactly once per step
        logits = model.classifier(model.dropout(emb))
        logits.retain_grad()
        loss = loss_fn(logits, targets)
        loss.backward()
        if step == 0:
            out["train.embeddings"], out["train.logits"] = emb.detach().clone(), logits.detach().clone()
            out["train.dlogits"] = logits.grad.clone()
            out["loss"] = loss.reshape(1)
            out.update({f"grad.{k}": p.grad.clone() for k, p in model.named_parameters()})
        losses.append(loss.item())
        optimizer.step()
    out["losses"] = torch.tensor(losses)
    out.update({f"step3.{k}": v.clone() for k, v in model.state_dict().items()})
    save(file, out, meta(config=config, state_dict_names=list(model.state_dict().keys()),
                         parameter_names=[k for k, _ in model.named_parameters()],
                         optimizer={"kind": "adamw", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-3,
                                    "weight_decay": 1e-2, "steps": 3},
                         loss={"kind": "bce_with_logits", "reduction": "mean"}))


# ---------------------------------------------------------------- LSTM
def lstm_case(prefix: str, out: dict, *, input_size: int, hidden: int, layers: int, bidirectional: bool,
              batch: int, steps: int) -> dict:
    lstm = torch.nn.LSTM(input_size, hidden, layers, batch_first=True, bidirectional=bidirectional)
    x = torch.randn(batch, steps, input_size, requires_grad=True)
    upstream = torch.randn(batch, steps, hidden * (2 if bidirectional else 1))
    out.update({f"{prefix}weights.{k}": v.clone() for k, v in lstm.state_dict().items()})
    y, _ = lstm(x)
    (y * upstream).sum().backward()
    out[f"{prefix}input"], out[f"{prefix}upstream"], out[f"{prefix}output"] = x.detach(), upstream, y.detach()
    out[f"{prefix}dinput"] = x.grad.clone()
    out.update({f"{prefix}grad.{k}": p.grad.clone() for k, p in lstm.named_parameters()})
    optimizer = torch.optim.AdamW(lstm.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-3, weight_decay=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        y, _ = lstm(x.detach())
        (y * upstream).sum().backward()
        optimizer.step()
    out.update({f"{prefix}step3.{k}": v.clone() for k, v in lstm.state_dict().items()})
    return dict(input_size=input_size, hidden=hidden, layers=layers, bidirectional=bidirectional,
                batch=batch, steps=steps, names=[k for k, _ in lstm.named_parameters()])


def lstm_fixture() -> None:
    torch.manual_seed(5)
    out: dict[str, torch.Tensor] = {}
    main = lstm_case("", out, input_size=4, hidden=6, layers=2, bidirectional=True, batch=3, steps=5)
    uni = lstm_case("uni.", out, input_size=3, hidden=5, layers=1, bidirectional=False, batch=2, steps=7)
    save("lstm.safetensors", out, meta(main=main, uni=uni,
                                       optimizer={"kind": "adamw", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-3,
                                                  "weight_decay": 1e-2, "steps": 3}))


# ---------------------------------------------------------------- Grad-CAM
def randomise_batch_norm(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.3, 0.3)
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(7)


def grad_cam(model: torch.nn.Module, x: torch.Tensor, label: int, stage: torch.nn.Module):
    """Grad-CAM (Selvaraju et al. 2017) by autograd: A = the stage's output, alpha_k = mean over
    (h, w) of d logit[label] / d A_k, cam = relu(sum_k alpha_k A_k), upsampled bilinearly
    (align_corners=False) to the input's (H, W). Eval mode; one backward of the summed logits
    gives each sample its own gradient (samples are independent in eval mode)."""
    kept = {}

    def hook(_module, _inputs, output):
        output.retain_grad()
        kept["a"] = output

    handle = stage.register_forward_hook(hook)
    model.eval()
    model.zero_grad()
    logits = model(x)
    handle.remove()
    logits[:, label].sum().backward()
    a, g = kept["a"], kept["a"].grad
    alpha = g.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((alpha * a).sum(dim=1))
    up = torch.nn.functional.interpolate(cam[:, None], size=tuple(x.shape[2:]), mode="bilinear",
                                         align_corners=False)[:, 0]
    return logits.detach(), a.detach(), g.detach(), cam.detach(), up.detach()


def gradcam_fixture(file: str, config: dict, seed: int) -> None:
    torch.manual_seed(seed)
    model = make_network(config)
    randomise_batch_norm(model)
    x = torch.randn(3, config.get("input_channels", 1), 32, 48)  # H != W: rows and columns differ
    if config["kind"] == "baseline":
        named = [(f"features.{i}", m) for i, m in enumerate(model.features)]
    else:  # resnet_se, cnn_lstm: the same stem and stages
        named = [("stem", model.stem)] + [(f"layers.{i}", m) for i, m in enumerate(model.layers)]
    stages = dict(named)
    tested = [named[-1][0], named[-2][0]]  # the last convolutional stage, and one before it

    # The label whose last-stage maps are positive in the most cells: random weights give many
    # all-zero maps (the ReLU), which would test little.
    def positive_cells(label: int) -> int:
        return int((grad_cam(model, x, label, stages[tested[0]])[3] > 0).sum())
    label = max(range(config["num_genres"]), key=positive_cells)
    out = {f"weights.{k}": v.clone() for k, v in model.state_dict().items()}
    out["input"] = x
    for name in tested:
        logits, a, g, cam, up = grad_cam(model, x, label, stages[name])
        out["logits"] = logits
        out[f"{name}.activation"], out[f"{name}.gradient"] = a, g
        out[f"{name}.cam"], out[f"{name}.cam_upsampled"] = cam, up
        assert (cam > 0).any(dim=(1, 2)).all(), f"{file}: a sample's {name} map is all zero"
    save(file, out, meta(config=config, label=label, stages=tested, stage_names=[n for n, _ in named]))


def gradcam_fixtures() -> None:
    gradcam_fixture("gradcam_resnet_se.safetensors",
                    {"kind": "resnet_se", "num_genres": 5, "input_channels": 1, "base_channels": 8,
                     "use_attention": True, "embedding_dim": 16, "dropout": 0.0, "blocks": [1, 2],
                     "attention_reduction": 4}, seed=3)
    gradcam_fixture("gradcam_baseline.safetensors",
                    {"kind": "baseline", "num_genres": 5, "input_channels": 1, "base_channels": 4,
                     "use_attention": False, "embedding_dim": 16, "dropout": 0.0, "blocks": [],
                     "attention_reduction": 16}, seed=4)
    gradcam_fixture("gradcam_cnn_lstm.safetensors",
                    {"kind": "cnn_lstm", "num_genres": 5, "input_channels": 1, "base_channels": 8,
                     "use_attention": True, "embedding_dim": 16, "dropout": 0.0, "blocks": [1, 1],
                     "attention_reduction": 4, "lstm_hidden": 6, "lstm_layers": 2, "bidirectional": True}, seed=5)


# ---------------------------------------------------------------- loss
def bce_fixture() -> None:
    torch.manual_seed(11)
    logits = torch.randn(6, 5) * 4
    logits[0] = torch.tensor([-60.0, -20.0, 0.0, 20.0, 60.0])  # saturated sigmoids stay finite
    targets = torch.rand(6, 5)
    targets[1] = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.5])
    pos_weight = torch.tensor([1.0, 2.0, 0.5, 4.0, 1.5])
    out = {"logits": logits, "targets": targets, "pos_weight": pos_weight}
    for suffix, fn in (("", torch.nn.BCEWithLogitsLoss()), (".pw", torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight))):
        x = logits.clone().requires_grad_(True)
        loss = fn(x, targets)
        loss.backward()
        out[f"loss{suffix}"], out[f"grad{suffix}"] = loss.reshape(1), x.grad
    save("bce.safetensors", out, meta(reduction="mean"))


# ---------------------------------------------------------------- optimizers
OPTIMIZERS = {
    "adam": (torch.optim.Adam, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)),
    "adamw": (torch.optim.AdamW, dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=5e-2)),
    "sgd_momentum": (torch.optim.SGD, dict(lr=5e-2, momentum=0.9, weight_decay=1e-3)),
    "sgd_nesterov": (torch.optim.SGD, dict(lr=5e-2, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    "sgd_plain": (torch.optim.SGD, dict(lr=1e-1)),
}
STEPS = 4


def optimizer_fixture() -> None:
    torch.manual_seed(12)
    initial = {"a": torch.randn(3, 4), "b": torch.randn(5)}
    grads = {k: [torch.randn_like(v) for _ in range(STEPS)] for k, v in initial.items()}
    out = {f"init.{k}": v for k, v in initial.items()}
    out.update({f"grad{i}.{k}": g[i] for k, g in grads.items() for i in range(STEPS)})
    settings = {}
    for name, (cls, kwargs) in OPTIMIZERS.items():
        params = {k: torch.nn.Parameter(v.clone()) for k, v in initial.items()}
        opt = cls(list(params.values()), **kwargs)
        for i in range(STEPS):
            for k, p in params.items():
                p.grad = grads[k][i].clone()
            opt.step()
            out.update({f"{name}.step{i + 1}.{k}": p.detach().clone() for k, p in params.items()})
        for k, p in params.items():
            for key, value in opt.state[p].items():
                if torch.is_tensor(value):
                    out[f"{name}.state.{k}.{key}"] = (value.reshape(-1) if value.dim() == 0 else value).clone()
        settings[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
    save("optimizers.safetensors", out, meta(settings=settings, steps=STEPS))


def clip_fixture() -> None:
    torch.manual_seed(13)
    out = {}
    for case, max_norm in (("clipped", 1.0), ("unclipped", 100.0)):
        params = [torch.nn.Parameter(torch.zeros(3, 4)), torch.nn.Parameter(torch.zeros(7))]
        for i, p in enumerate(params):
            p.grad = torch.randn_like(p) * 2
            out[f"{case}.grad_in.{i}"] = p.grad.clone()
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        out[f"{case}.norm"] = norm.reshape(1)
        out[f"{case}.max_norm"] = torch.tensor([max_norm])
        for i, p in enumerate(params):
            out[f"{case}.grad_out.{i}"] = p.grad
    save("clip.safetensors", out, meta(norm_type="2"))


# ---------------------------------------------------------------- LR schedules
def lr_sequence(make, steps: int, metrics=None) -> torch.Tensor:
    """The lr in effect at epochs 0..steps-1 (scheduler.step() after each epoch)."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = make(opt)
    lrs = []
    for i in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(metrics[i]) if metrics is not None else sched.step()
    return torch.tensor(lrs, dtype=torch.float64).float()


def schedules_fixture() -> None:
    S = torch.optim.lr_scheduler
    metric_min = [1.0, 0.9, 0.9, 0.95, 0.9, 0.91, 0.89995, 0.8, 0.85, 0.86, 0.87, 0.88, 0.9, 0.7, 0.71, 0.72,
                  0.73, 0.74, 0.75, 0.76]
    metric_max = [1 - m for m in metric_min]
    cases = {
        "cosine": (lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=1e-3), 25, None,
                   {"base_lr": 0.1, "t_max": 10, "eta_min": 1e-3}),
        "step": (lambda o: S.StepLR(o, step_size=3, gamma=0.5), 12, None,
                 {"base_lr": 0.1, "step_size": 3, "gamma": 0.5}),
        "plateau_min": (lambda o: S.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=2, threshold=1e-4,
                                                      cooldown=1, min_lr=0.02), len(metric_min), metric_min,
                        {"base_lr": 0.1, "mode": "min", "factor": 0.5, "patience": 2, "threshold": 1e-4,
                         "cooldown": 1, "min_lr": 0.02}),
        "plateau_max": (lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.3, patience=1, threshold=1e-4,
                                                      cooldown=0, min_lr=0.0), len(metric_max), metric_max,
                        {"base_lr": 0.1, "mode": "max", "factor": 0.3, "patience": 1, "threshold": 1e-4,
                         "cooldown": 0, "min_lr": 0.0}),
        "warmup_cosine": (lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=3),
                                                       S.CosineAnnealingLR(o, T_max=8, eta_min=1e-3)],
                                                   milestones=[3]), 14, None,
                          {"base_lr": 0.1, "warmup_steps": 3, "warmup_start_factor": 0.1, "t_max": 8,
                           "eta_min": 1e-3}),
        "warmup_step": (lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.25, total_iters=4),
                                                     S.StepLR(o, step_size=2, gamma=0.1)],
                                                 milestones=[4]), 10, None,
                        {"base_lr": 0.1, "warmup_steps": 4, "warmup_start_factor": 0.25, "step_size": 2,
                         "gamma": 0.1}),
    }
    out, settings = {}, {}
    for name, (make, steps, metrics, setting) in cases.items():
        out[f"{name}.lr"] = lr_sequence(make, steps, metrics)
        if metrics is not None:
            out[f"{name}.metric"] = torch.tensor(metrics, dtype=torch.float64).float()
        settings[name] = setting
    save("schedules.safetensors", out, meta(settings=settings))


# ---------------------------------------------------------------- relational distillation
def relational_loss(emb: torch.Tensor, teacher: torch.Tensor, known: torch.Tensor, weight: float) -> torch.Tensor:
    idx = known.nonzero().flatten()
    e = torch.nn.functional.normalize(emb[idx], dim=1, eps=1e-8)
    t = teacher[idx]
    n = len(idx)
    off = 1 - torch.eye(n, dtype=emb.dtype)
    return weight * (((e @ e.T - t @ t.T) ** 2) * off).sum() / (n * (n - 1))


def neighbour_loss(emb: torch.Tensor, teacher: torch.Tensor, known: torch.Tensor, weight: float, tau: float) -> torch.Tensor:
    idx = known.nonzero().flatten()
    e = torch.nn.functional.normalize(emb[idx], dim=1, eps=1e-8)
    t = teacher[idx]
    n = len(idx)
    off = ~torch.eye(n, dtype=torch.bool)
    s = (e @ e.T)[off].view(n, n - 1) / tau
    r = (t @ t.T)[off].view(n, n - 1) / tau
    p = torch.softmax(r, dim=1)
    return weight * (p * (torch.log_softmax(r, dim=1) - torch.log_softmax(s, dim=1))).sum() / n


def relational_fixture() -> None:
    torch.manual_seed(15)
    out = {}
    emb = torch.relu(torch.randn(7, 6))
    emb[3, :] = torch.relu(torch.randn(6)) + 0.1  # no all-zero row: its direction is undefined
    teacher = torch.nn.functional.normalize(torch.randn(7, 4), dim=1)
    known = torch.tensor([1, 0, 1, 1, 1, 0, 1], dtype=torch.float32)
    x = emb.clone().requires_grad_(True)
    loss = relational_loss(x, teacher, known, 0.7)
    loss.backward()
    out.update({"alone.embeddings": emb, "alone.teacher": teacher, "alone.known": known,
                "alone.loss": loss.reshape(1), "alone.grad": x.grad})
    x = emb.clone().requires_grad_(True)
    loss = neighbour_loss(x, teacher, known, 0.7, 0.2)
    loss.backward()
    out.update({"neighbours.loss": loss.reshape(1), "neighbours.grad": x.grad})

    config = {"kind": "resnet_se", "num_genres": 5, "input_channels": 1, "base_channels": 8, "use_attention": True,
              "embedding_dim": 16, "dropout": 0.0, "blocks": [1, 2], "attention_reduction": 4}
    torch.manual_seed(4)
    model = make_network(config)
    randomise_batch_norm(model)
    out.update({f"net.weights.{k}": v.clone() for k, v in model.state_dict().items()})
    batch = 4
    inp = torch.randn(batch, 1, 32, 32)
    targets = torch.rand(batch, 5)
    net_teacher = torch.nn.functional.normalize(torch.randn(batch, 3), dim=1)
    model.train()
    emb = model.get_embeddings(inp)
    logits = model.classifier(model.dropout(emb))
    loss = torch.nn.BCEWithLogitsLoss()(logits, targets) + relational_loss(emb, net_teacher, torch.ones(batch), 0.5)
    loss.backward()
    out.update({"net.input": inp, "net.targets": targets, "net.teacher": net_teacher, "net.loss": loss.reshape(1)})
    out.update({f"net.grad.{k}": p.grad.clone() for k, p in model.named_parameters()})
    save("relational.safetensors", out, meta(config=config, alone_weight=0.7, net_weight=0.5))


# ---------------------------------------------------------------- safetensors interchange
def interchange_fixture() -> None:
    torch.manual_seed(14)
    f32 = torch.randn(2, 3)
    special = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6.1035156e-05, 5.9604645e-08, 3.0e-6,
                            float("inf"), float("-inf"), 0.1, 1000.5])
    f16 = special.half()
    bf16 = torch.cat([special, torch.tensor([3.0e38, 1.0e-39])]).bfloat16()
    i64 = torch.tensor([0, 7, -3, 2 ** 40], dtype=torch.int64)
    out = {"f32": f32, "f16": f16, "bf16": bf16, "i64": i64, "scalar": torch.tensor(3.5), "empty": torch.zeros(0, 4),
           "f16.as_f32": f16.float(), "bf16.as_f32": bf16.float(), "i64.as_f32": i64.float()}
    # One metadata key: the library writes metadata in hash order, and the Swift test compares bytes.
    save("python_written.safetensors", out, {"format": "pt"})


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    if sys.argv[1:] == ["gradcam"]:
        gradcam_fixtures()
        return
    if sys.argv[1:] == ["relational"]:
        relational_fixture()
        return
    model_fixture("resnet_se_tiny.safetensors",
                  {"kind": "resnet_se", "num_genres": 5, "input_channels": 1, "base_channels": 8,
                   "use_attention": True, "embedding_dim": 16, "dropout": 0.0, "blocks": [1, 2],
                   "attention_reduction": 4}, seed=1)
    model_fixture("baseline_tiny.safetensors",
                  {"kind": "baseline", "num_genres": 5, "input_channels": 1, "base_channels": 4,
                   "use_attention": False, "embedding_dim": 16, "dropout": 0.0, "blocks": [],
                   "attention_reduction": 16}, seed=2)
    model_fixture("cnn_lstm_tiny.safetensors",
                  {"kind": "cnn_lstm", "num_genres": 5, "input_channels": 1, "base_channels": 8,
                   "use_attention": True, "embedding_dim": 16, "dropout": 0.0, "blocks": [1, 1],
                   "attention_reduction": 4, "lstm_hidden": 6, "lstm_layers": 2, "bidirectional": True}, seed=3)
    lstm_fixture()
    bce_fixture()
    optimizer_fixture()
    clip_fixture()
    schedules_fixture()
    interchange_fixture()
    gradcam_fixtures()
    relational_fixture()


if __name__ == "__main__":
    main()
