"""Models on the GPU (CuPy backend): training, tracing, compiling and saving on 'cuda' must give
what the same ember code gives on the CPU, from the same weights and batches. The models are the
training-parity ones (one definition per library), moved with `.to("cuda")`. Skipped without
CuPy and a GPU; ember.cuda's queries are checked everywhere."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_training_parity import TASKS, as_tensor

import ember

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_train import _gpt as bench_gpt  # noqa: E402

needs_gpu = pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a GPU")
STEPS = 4
TOL = dict(rtol=2e-4, atol=2e-5)


def _twins(task: str):
    """The task's ember model on the CPU and a copy of it on the GPU, same weights."""
    ember.manual_seed(0)
    cpu = TASKS[task].make(ember)
    gpu = TASKS[task].make(ember)
    gpu.load_state_dict(cpu.state_dict())
    return cpu, gpu.to("cuda")


def _train(model, task: str, device: str, optimizer: str) -> list[float]:
    spec = TASKS[task]
    opt = getattr(ember.optim, optimizer)(model.parameters(), lr=0.01)
    losses = []
    for batch in spec.batches(np.random.default_rng(0))[:STEPS]:
        args = [as_tensor(ember, b, "float32") for b in batch]
        # lengths of packed sequences stay on the host, as torch wants them
        args = [a if task == "gru_encoder" and k == 1 else a.to(device)
                for k, a in enumerate(args)]
        opt.zero_grad()
        loss = spec.loss(ember, model, *args)
        assert loss.device.type == device
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_queries_without_a_gpu_say_so():
    if ember.cuda.is_available():
        assert ember.cuda.device_count() >= 1 and ember.cuda.get_device_name()
        return
    assert ember.cuda.device_count() == 0 and ember.cuda.memory_allocated() == 0
    with pytest.raises(RuntimeError, match="NVIDIA driver"):
        ember.cuda.current_device()
    with pytest.raises(RuntimeError, match="CuPy"):
        ember.zeros(2, device="cuda")


def test_bf16_support_without_a_gpu_is_false_as_torch_on_a_cpu_build():
    import torch
    if ember.cuda.is_available() or torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    for emulation in (True, False):
        assert ember.cuda.is_bf16_supported(emulation) is torch.cuda.is_bf16_supported(emulation)
        assert ember.cuda.is_bf16_supported(emulation) is False


@pytest.mark.parametrize("major,emulation,made,expected", [
    (8, False, True, True), (9, True, True, True), (7, False, True, False),
    (7, True, True, True), (7, True, False, False)])
def test_bf16_support_follows_the_compute_capability(monkeypatch, major, emulation, made,
                                                     expected):
    """Capability 8.0 and above computes bfloat16 natively; older GPUs emulate it where a
    bfloat16 tensor can be made on them (a fake CuPy device stands in for the GPU)."""
    class Runtime:
        @staticmethod
        def getDevice():
            return 0

        @staticmethod
        def getDeviceProperties(index):
            return {"major": major, "minor": 0, "name": b"fake"}

    class FakeCupy:
        class cuda:
            runtime = Runtime

    def zeros(*args, **kwargs):
        if not made:
            raise RuntimeError("bfloat16 is not supported on this device")

    monkeypatch.setattr(ember.cuda, "is_available", lambda: True)
    monkeypatch.setattr(ember.cuda, "_cupy", lambda: FakeCupy)
    monkeypatch.setattr(ember._ops.creation, "zeros", zeros)
    assert ember.cuda.get_device_capability("cuda:0") == (major, 0)
    assert ember.cuda.is_bf16_supported(including_emulation=emulation) is expected


@needs_gpu
def test_bf16_support_on_the_gpu():
    major, _ = ember.cuda.get_device_capability()
    assert ember.cuda.is_bf16_supported(including_emulation=False) is (major >= 8)


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("task,optimizer", [("mlp", "Adam"), ("cnn", "SGD"),
                                            ("lstm_lm", "AdamW"), ("gru_encoder", "RMSprop"),
                                            ("mlp", "SGD")])
def test_training_on_the_gpu_matches_the_cpu(task, optimizer):
    cpu, gpu = _twins(task)
    want = _train(cpu, task, "cpu", optimizer)
    got = _train(gpu, task, "cuda", optimizer)
    np.testing.assert_allclose(got, want, **TOL)
    for (name, p), q in zip(cpu.named_parameters(), gpu.parameters()):
        assert q.device.type == "cuda" and q.grad.device.type == "cuda", name
        np.testing.assert_allclose(q.detach().cpu().numpy(), p.detach().numpy(), rtol=1e-3,
                                   atol=1e-4, err_msg=name)


def _gpt(lib):
    return bench_gpt(lib, vocab=17, block=8, d_model=16, heads=2, layers=2)


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("task", ["mlp", "cnn"])
def test_traced_model_on_the_gpu_matches_eager_and_saves(task, tmp_path):
    cpu, gpu = _twins(task)
    gpu.eval()
    batch = TASKS[task].batches(np.random.default_rng(1))[0][0]
    x = as_tensor(ember, batch, "float32").to("cuda")
    traced = ember.jit.trace(gpu, (x,))
    want = gpu(x)
    got = traced(x)
    assert got.device.type == "cuda"
    np.testing.assert_allclose(got.detach().cpu().numpy(), want.detach().cpu().numpy(), **TOL)
    frozen = ember.jit.optimize_for_inference(ember.jit.freeze(traced))
    np.testing.assert_allclose(frozen(x).detach().cpu().numpy(), want.detach().cpu().numpy(), **TOL)
    path = tmp_path / "model.ember"
    traced.save(path)
    on_cpu = ember.jit.load(path, map_location="cpu")
    np.testing.assert_allclose(on_cpu(x.cpu()).detach().numpy(), want.detach().cpu().numpy(), **TOL)
    on_gpu = ember.jit.load(path)
    assert on_gpu(x).device.type == "cuda"


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("task", ["mlp", "cnn"])
def test_compiled_training_on_the_gpu_matches_eager(task):
    _, eager = _twins(task)
    _, compiled_model = _twins(task)
    step_models = {"eager": eager, "compiled": ember.compile(compiled_model)}
    losses = {}
    for name, model in step_models.items():
        params = (compiled_model if name == "compiled" else eager).parameters()
        opt = ember.optim.SGD(params, lr=0.05, momentum=0.9)
        losses[name] = []
        for x, y in TASKS[task].batches(np.random.default_rng(0))[:STEPS]:
            xs, ys = (as_tensor(ember, v, "float32").to("cuda") for v in (x, y))
            opt.zero_grad()
            loss = ember.nn.functional.cross_entropy(model(xs), ys)
            loss.backward()
            opt.step()
            losses[name].append(loss.item())
    np.testing.assert_allclose(losses["compiled"], losses["eager"], **TOL)


@pytest.mark.gpu
@needs_gpu
def test_compiled_gpt_training_on_the_gpu_matches_eager():
    ember.manual_seed(0)
    eager = _gpt(ember).to("cuda")
    twin = _gpt(ember).to("cuda")
    twin.load_state_dict(eager.state_dict())
    idx = ember.tensor(np.random.default_rng(0).integers(0, 17, (3, 8)), device="cuda")
    losses = {}
    for name, model, params in (("eager", eager, eager.parameters()),
                                ("compiled", ember.compile(twin, fullgraph=True),
                                 twin.parameters())):
        opt = ember.optim.AdamW(params, lr=3e-3)
        losses[name] = []
        for _ in range(STEPS):
            opt.zero_grad()
            loss = ember.nn.functional.cross_entropy(model(idx)[:, :-1].reshape(-1, 17),
                                                     idx[:, 1:].reshape(-1))
            loss.backward()
            opt.step()
            losses[name].append(loss.item())
    np.testing.assert_allclose(losses["compiled"], losses["eager"], **TOL)
    assert all(p.device.type == "cuda" for p in twin.parameters())


@pytest.mark.gpu
@needs_gpu
def test_gpt_trains_and_traces_on_the_gpu():
    ember.manual_seed(0)
    cpu = _gpt(ember)
    gpu = _gpt(ember)
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("cuda")
    tokens = np.random.default_rng(0).integers(0, 17, (3, 8))
    losses = {}
    for device, model in (("cpu", cpu), ("cuda", gpu)):
        idx = ember.tensor(tokens, device=device)
        opt = ember.optim.AdamW(model.parameters(), lr=3e-3)
        losses[device] = []
        for _ in range(STEPS):
            opt.zero_grad()
            logits = model(idx)
            loss = ember.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 17),
                                                     idx[:, 1:].reshape(-1))
            loss.backward()
            opt.step()
            losses[device].append(loss.item())
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], **TOL)
    gpu.eval()
    idx = ember.tensor(tokens, device="cuda")
    traced = ember.jit.trace(gpu, (idx,))
    np.testing.assert_allclose(traced(idx[:2, :5]).detach().cpu().numpy(),
                               gpu(idx[:2, :5]).detach().cpu().numpy(), **TOL)


@pytest.mark.gpu
@needs_gpu
def test_saved_gpu_model_loads_in_a_fresh_process(tmp_path):
    _, gpu = _twins("mlp")
    x = ember.randn(5, 6, device="cuda")
    path = tmp_path / "mlp.ember"
    ember.jit.trace(gpu, (x,)).save(path)
    np.save(tmp_path / "x.npy", x.cpu().numpy())
    np.save(tmp_path / "want.npy", gpu(x).detach().cpu().numpy())
    code = ("import numpy as np, ember, sys; d = sys.argv[1]; "
            "m = ember.jit.load(d + '/mlp.ember', map_location='cuda'); "
            "out = m(ember.tensor(np.load(d + '/x.npy'), device='cuda')); "
            "assert out.device.type == 'cuda'; "
            "np.testing.assert_allclose(out.detach().cpu().numpy(), np.load(d + '/want.npy'), "
            "rtol=2e-4, atol=2e-5)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, cwd=tmp_path)
