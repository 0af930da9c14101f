"""The coverage table and the lowering registry: `python -m ember.onnx.coverage` lists every
registry op; lowerings attach to OpDefs; plain ONNX op names lower generically."""
from __future__ import annotations

import subprocess
import sys

import pytest

import ember.onnx
from ember._ops.registry import REGISTRY, OpDef
from ember.onnx import coverage
from ember.onnx.lowering import LOWERINGS, Lowering, lowering_of


def test_coverage_command_lists_every_registry_op():
    out = subprocess.run([sys.executable, "-m", "ember.onnx.coverage"], capture_output=True,
                         text=True, check=True).stdout
    rows = {line.split("|")[1].strip() for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| op ")}
    assert rows == set(REGISTRY)
    assert "inference ops lower to ONNX" in out
    assert "| matmul | linalg |" + " yes |" * 11 + " MatMul |" in out
    assert "| col2im | conv |" + " - |" * 7 + " yes |" * 4 + " Col2Im |" in out


def test_missing_listing_has_only_ops_without_lowering():
    text = coverage.table(missing_only=True)
    listed = {line.split("|")[1].strip() for line in text.splitlines()
              if line.startswith("| ") and not line.startswith("| op ")}
    assert listed == {name for name, op in REGISTRY.items() if lowering_of(op) is None}
    assert "linalg_inv" in listed and "softmax_backward" in listed


# inference ops that have no ONNX lowering, knowingly (the coverage table says why): a new
# op fails here until it gets a lowering in ember/onnx/ops or joins this list
WITHOUT_LOWERING = {
    "arange", "complex", "ctc_loss", "ctc_loss_grad", "digamma", "fft_c2c", "fft_c2r", "fft_r2c",
    "full", "gcd", "histogram", "imag", "lcm", "lgamma", "linalg_cholesky", "linalg_eig",
    "linalg_matrix_exp",
    "linalg_eigh", "linalg_inv", "linalg_matrix_rank", "linalg_pinv", "linalg_qr",
    "linalg_slogdet", "linalg_solve", "linalg_svd", "mode", "nextafter", "nll_loss_coefficients",
    "pad_flat", "polygamma", "special_erfcx", "special_log_ndtr", "special_ndtri", "special_zeta",
    "view_as_complex", "view_as_real", "view_dtype",
    # the LU/LDL/QR-reflector family and its solvers: ONNX has no factorizations
    "cholesky_solve", "geqrf", "linalg_cholesky_ex", "linalg_ldl_factor_ex", "linalg_ldl_solve",
    "linalg_lu_factor_ex", "lu_pivots_to_permutation", "triangular_solve",
    # random windows (fractional pooling) and D-dimensional histograms
    "fractional_max_pool", "histogramdd",
    # Bessel/Airy functions, incomplete gamma and orthogonal polynomials: no ONNX operator
    "i0", "igamma", "igammac", "special_airy_ai", "special_bessel_j0", "special_bessel_j1",
    "special_bessel_y0", "special_bessel_y1", "special_i0e", "special_i1", "special_i1e",
    "special_modified_bessel_i0", "special_modified_bessel_i1", "special_modified_bessel_k0",
    "special_modified_bessel_k1", "special_scaled_modified_bessel_k0",
    "special_scaled_modified_bessel_k1", "special_spherical_bessel_j0",
    *(f"special_{kind}_polynomial_{v}" for kind in ("chebyshev", "shifted_chebyshev")
      for v in "tuvw"),
    "special_hermite_polynomial_h", "special_hermite_polynomial_he",
    "special_laguerre_polynomial_l", "special_legendre_polynomial_p",
    "python_call"}  # an @jit.ignore'd Python function: no ONNX graph can hold it (as in torch)


def test_inference_ops_without_a_lowering_are_the_known_ones():
    """A composite that starts calling a new op loses its ONNX export unless the op lowers
    (avg_pool's window-count op nearly did): the registry-driven export tests only run ops
    that have a lowering, so the ones without are listed."""
    missing = {name for name, op in REGISTRY.items()
               if lowering_of(op) is None and not coverage._is_training_only(name)}
    assert missing == WITHOUT_LOWERING


def test_every_lowering_names_a_registry_op_and_is_attached():
    assert set(LOWERINGS) <= set(REGISTRY), "lowerings for ops no longer in the registry"
    for name, low in LOWERINGS.items():
        assert REGISTRY[name].onnx is low


def test_importing_ember_onnx_does_not_need_onnx():
    code = "import sys, ember.onnx; sys.exit('onnx' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_plain_onnx_names_lower_generically():
    pytest.importorskip("onnx")

    class Magnitude(OpDef):
        onnx = "Abs"

        def forward(ctx, xp, x):
            return xp.abs(x)

    class Gaussian(OpDef):
        onnx = "Gelu"

    low = lowering_of(Magnitude)
    assert isinstance(low, Lowering) and low.opsets == (11, 21) and low.via == "Abs"
    assert lowering_of(Gaussian).opsets == (20, 21)
    assert Magnitude.onnx == "Abs"


def test_public_names():
    assert issubclass(ember.onnx.UnsupportedOperatorError, RuntimeError)
    assert ember.onnx.DEFAULT_OPSET == 17 and ember.onnx.OPSETS == (11, 21)
