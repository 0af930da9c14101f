"""torch.backends' setup lines run under ember and read back what they set."""
import ember


def test_script_setup_lines_run():
    import ember.backends.cudnn as cudnn

    cudnn.benchmark = True
    ember.backends.cudnn.deterministic = True
    assert ember.backends.cudnn.benchmark and cudnn.deterministic
    assert not ember.backends.cudnn.is_available() and ember.backends.cudnn.version() is None
    device = ("cuda" if ember.cuda.is_available()
              else "mps" if ember.backends.mps.is_available() else "cpu")
    assert device in ("cuda", "cpu")
    cudnn.benchmark = cudnn.deterministic = False


def test_matmul_allow_tf32_is_the_legacy_precision_switch():
    before = ember.get_float32_matmul_precision()
    try:
        ember.backends.cuda.matmul.allow_tf32 = True
        assert ember.get_float32_matmul_precision() == "high"
        ember.set_float32_matmul_precision("highest")
        assert ember.backends.cuda.matmul.allow_tf32 is False
    finally:
        ember.set_float32_matmul_precision(before)


def test_sdp_kernel_flags():
    ember.backends.cuda.enable_flash_sdp(False)
    assert not ember.backends.cuda.flash_sdp_enabled()
    ember.backends.cuda.enable_flash_sdp(True)
    assert ember.backends.cuda.math_sdp_enabled()
    assert ember.backends.cuda.mem_efficient_sdp_enabled()

