"""Loss functions and modules against torch: values and gradients for every reduction, class
weights, ignore_index, label smoothing, K-dimensional inputs, legacy arguments and errors."""
import warnings

import numpy as np
import pytest
import torch

import ember
from ember.testing.opinfo import Arg

from ._oracle import compare, compare_modules

REDUCTIONS = ["none", "mean", "sum"]


def _long(shape, high, low=0):
    return Arg(shape, low, high, dtype="int64", grad=False)


def _signs(shape):
    return Arg(values=np.where(np.random.default_rng(3).random(shape) < 0.5, -1.0, 1.0),
               grad=False)


# ---- regression losses --------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kwargs", [("l1_loss", {}), ("mse_loss", {}),
                                         ("smooth_l1_loss", {}), ("smooth_l1_loss",
                                                                  {"beta": 0.5}),
                                         ("smooth_l1_loss", {"beta": 0.0}),
                                         ("huber_loss", {}), ("huber_loss", {"delta": 2.0})])
def test_regression_losses(name, kwargs, reduction):
    fn = getattr(torch.nn.functional, name)

    def run(t, x, y):
        return getattr(t.nn.functional, name)(x, y, reduction=reduction, **kwargs)

    assert fn is not None
    compare(run, (Arg((3, 4), -3, 3), Arg((3, 4), -3, 3)), what=name)
    compare(run, (Arg(values=[0.0, 0.5, 1.0, 2.0, -2.0]), Arg(values=[0.0, 0.0, 0.0, 0.0, 0.0])),
            what=name)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "huber_loss"])
def test_regression_losses_with_weight(name, reduction):
    compare(lambda t, x, y, w: getattr(t.nn.functional, name)(x, y, reduction=reduction,
                                                              weight=w),
            (Arg((3, 4)), Arg((3, 4)), Arg((3, 4), 0.5, 2, grad=False)), what=name)


def test_regression_broadcast_warns():
    for lib in (torch, ember):
        with pytest.warns(UserWarning, match="Using a target size"):
            lib.nn.functional.mse_loss(lib.ones(3), lib.ones(3, 1))


def test_legacy_reduction_arguments():
    for size_average, reduce, expected in ((False, None, "sum"), (None, False, "none"),
                                           (True, True, "mean")):
        for lib in (torch, ember):
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                m = lib.nn.MSELoss(size_average=size_average, reduce=reduce)
            assert m.reduction == expected
            assert any("size_average and reduce args will be deprecated" in str(x.message)
                       for x in w)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        compare(lambda t, x, y: t.nn.functional.l1_loss(x, y, size_average=False),
                (Arg((3,)), Arg((3,))))


def test_invalid_reduction():
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        ember.nn.functional.l1_loss(ember.ones(2), ember.ones(2), reduction="avg")


# ---- cross entropy and nll ----------------------------------------------------------------------
CE_CASES = [
    ((4, 5), (4,)), ((2, 3, 4), (2, 4)), ((2, 3, 2, 3), (2, 2, 3)), ((5,), ()),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("in_shape,t_shape", CE_CASES)
@pytest.mark.parametrize("options", [{}, {"ignore_index": 1}, {"label_smoothing": 0.2},
                                     {"weight": True}, {"weight": True, "ignore_index": 0,
                                                        "label_smoothing": 0.3}])
def test_cross_entropy_class_indices(in_shape, t_shape, reduction, options):
    classes = in_shape[0] if len(in_shape) == 1 else in_shape[1]
    opts = dict(options)
    use_weight = opts.pop("weight", False)

    def run(t, x, y, w):
        return t.nn.functional.cross_entropy(x, y, w if use_weight else None,
                                             reduction=reduction, **opts)

    compare(run, (Arg(in_shape, -3, 3), _long(t_shape, classes - 1),
                  Arg((classes,), 0.5, 2, grad=False)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("in_shape,t_shape", CE_CASES)
@pytest.mark.parametrize("options", [{}, {"ignore_index": 2}, {"weight": True}])
def test_nll_loss(in_shape, t_shape, reduction, options):
    classes = in_shape[0] if len(in_shape) == 1 else in_shape[1]
    opts = dict(options)
    use_weight = opts.pop("weight", False)

    def run(t, x, y, w):
        return t.nn.functional.nll_loss(x, y, w if use_weight else None, reduction=reduction,
                                        **opts)

    compare(run, (Arg(in_shape, -3, 0), _long(t_shape, classes - 1),
                  Arg((classes,), 0.5, 2, grad=False)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4), (5,)])
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.25}, {"weight": True}])
def test_cross_entropy_class_probabilities(shape, reduction, options):
    classes = shape[0] if len(shape) == 1 else shape[1]
    opts = dict(options)
    use_weight = opts.pop("weight", False)

    def run(t, x, p, w):
        target = t.softmax(p, 0 if len(shape) == 1 else 1)
        return t.nn.functional.cross_entropy(x, target, w if use_weight else None,
                                             reduction=reduction, **opts)

    compare(run, (Arg(shape), Arg(shape), Arg((classes,), 0.5, 2, grad=False)))


@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.1, "ignore_index": 3}])
def test_cross_entropy_large(options):
    compare(lambda t, x, y: t.nn.functional.cross_entropy(x, y, **options),
            (Arg((256, 100), -5, 5), _long((256,), 99)))
    compare(lambda t, x, y: t.nn.functional.cross_entropy(x, y, reduction="none", **options),
            (Arg((8, 30, 70)), _long((8, 70), 29)))


def test_cross_entropy_all_ignored_mean_is_nan():
    compare(lambda t, x, y: t.nn.functional.cross_entropy(x, y, ignore_index=1),
            (Arg((2, 3)), Arg(values=[1, 1], dtype="int64", grad=False)), grad=False)


def test_cross_entropy_half_and_large_logits():
    compare(lambda t, x, y: t.nn.functional.cross_entropy(x, y),
            (Arg((4, 5)), _long((4,), 4)), dtypes=("float16", "bfloat16"), grad=False)
    compare(lambda t, x, y: t.nn.functional.cross_entropy(x, y, reduction="none"),
            (Arg(values=[[1000.0, -1000.0, 0.0], [-800.0, -900.0, -1000.0]]),
             Arg(values=[1, 2], dtype="int64", grad=False)))


def test_cross_entropy_uint8_target():
    compare(lambda t, x, y: t.nn.functional.cross_entropy(x, y),
            (Arg((4, 3)), Arg((4,), 0, 2, dtype="uint8", grad=False)))


def test_cross_entropy_double_backward():
    def second(t, x, y, w):
        loss = t.nn.functional.cross_entropy(x, y, w, label_smoothing=0.1, ignore_index=2)
        (g,) = t.autograd.grad(loss, x, create_graph=True)
        return (g * g * x).sum()

    compare(second, (Arg((4, 3)), _long((4,), 2), Arg((3,), 0.5, 2, grad=False)),
            dtypes=("float64",))


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("x_shape,t_shape,t_dtype", [
    ((2, 3, 5), (2, 4), "int64"), ((2, 5), (2,), "float32"), ((2, 5), (3,), "int64"),
    ((2, 5), (2,), "int32"), ((2, 5), (2, 4), "float32"), ((2, 3, 4), (3, 4), "int64"),
    ((2, 5), (2, 5, 1), "int64")])
def test_class_target_errors_match_torch(fn, x_shape, t_shape, t_dtype):
    errors = []
    for lib in (torch, ember):
        with pytest.raises((RuntimeError, ValueError)) as err:
            getattr(lib.nn.functional, fn)(lib.zeros(x_shape),
                                           lib.zeros(t_shape, dtype=getattr(lib, t_dtype)))
        errors.append(err)
    assert errors[0].type is errors[1].type
    assert str(errors[1].value) == str(errors[0].value)


@pytest.mark.parametrize("target", [[0, 7], [0, -3]])
def test_target_out_of_bounds(target):
    for lib in (torch, ember):
        with pytest.raises(IndexError, match=f"Target {target[1]} is out of bounds."):
            lib.nn.functional.cross_entropy(lib.zeros(2, 5), lib.tensor(target))


def test_cross_entropy_weight_errors():
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 5 "
                                           "classes or no classes"):
        ember.nn.functional.cross_entropy(ember.zeros(2, 5), ember.tensor([0, 1]),
                                          ember.ones(4))
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        ember.nn.functional.cross_entropy(ember.zeros(2, 5), ember.tensor([0, 1]),
                                          ember.ones(5, dtype=ember.float64))


# ---- binary cross entropy -----------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy(reduction, weighted):
    def run(t, x, y, w):
        return t.nn.functional.binary_cross_entropy(x, y, w if weighted else None,
                                                    reduction=reduction)

    compare(run, (Arg((3, 4), 0.02, 0.98), Arg((3, 4), 0, 1), Arg((3, 4), 0.5, 2, grad=False)))
    compare(run, (Arg((3, 4), 0.02, 0.98), Arg((3, 4), 0, 1), Arg((4,), 0.5, 2, grad=False)))


def test_binary_cross_entropy_saturated_inputs():
    def run(t, x, y):
        return t.nn.functional.binary_cross_entropy(x, y, reduction="none")

    compare(run, (Arg(values=[0.0, 1.0, 1e-30, 1.0 - 1e-7]), Arg(values=[0.0, 1.0, 1.0, 0.0],
                                                                 grad=False)))


def test_binary_cross_entropy_errors():
    for lib in (torch, ember):
        with pytest.raises(ValueError, match="Using a target size"):
            lib.nn.functional.binary_cross_entropy(lib.full((3,), 0.5), lib.ones(3, 1))
        with pytest.raises(RuntimeError, match="all elements of input should be between 0 "
                                               "and 1"):
            lib.nn.functional.binary_cross_entropy(lib.tensor([1.5]), lib.ones(1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [{}, {"weight": True}, {"pos_weight": True},
                                     {"weight": True, "pos_weight": True}])
def test_binary_cross_entropy_with_logits(reduction, options):
    def run(t, x, y, w, pw):
        return t.nn.functional.binary_cross_entropy_with_logits(
            x, y, w if options.get("weight") else None, reduction=reduction,
            pos_weight=pw if options.get("pos_weight") else None)

    compare(run, (Arg((3, 4), -4, 4), Arg((3, 4), 0, 1), Arg((3, 4), 0.5, 2, grad=False),
                  Arg((4,), 0.5, 3, grad=False)))
    compare(run, (Arg(values=[-200.0, -30.0, 0.0, 30.0, 200.0]), Arg((5,), 0, 1),
                  Arg((5,), 0.5, 2, grad=False), Arg((5,), 0.5, 3, grad=False)))


def test_binary_cross_entropy_with_logits_size_error():
    for lib in (torch, ember):
        with pytest.raises(ValueError, match="must be the same as input size"):
            lib.nn.functional.binary_cross_entropy_with_logits(lib.ones(3), lib.ones(3, 1))


# ---- other probabilistic losses -----------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    def run(t, x, y):
        target = y.log_softmax(1) if log_target else y.softmax(1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return t.nn.functional.kl_div(x.log_softmax(1), target, reduction=reduction,
                                          log_target=log_target)

    compare(run, (Arg((3, 4)), Arg((3, 4))))
    compare(lambda t, x, y: t.nn.functional.kl_div(x, y, reduction="sum"),
            (Arg((2, 3)), Arg(values=[[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], grad=False)))


def test_kl_div_mean_warns():
    with pytest.warns(UserWarning, match="reduction: 'mean' divides the total loss"):
        ember.nn.functional.kl_div(ember.zeros(2), ember.ones(2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input,full", [(True, False), (False, False), (True, True),
                                            (False, True)])
def test_poisson_nll_loss(log_input, full, reduction):
    low = -1.0 if log_input else 0.1
    compare(lambda t, x, y: t.nn.functional.poisson_nll_loss(x, y, log_input, full,
                                                             reduction=reduction),
            (Arg((3, 4), low, 2), Arg((3, 4), 0, 4)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", [(3, 4), (3,), (3, 1), "float"])
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_loss(var_shape, full, reduction):
    if var_shape == "float":
        compare(lambda t, x, y: t.nn.functional.gaussian_nll_loss(x, y, 0.7, full=full,
                                                                  reduction=reduction),
                (Arg((3, 4)), Arg((3, 4))))
        return
    compare(lambda t, x, y, v: t.nn.functional.gaussian_nll_loss(x, y, v, full=full,
                                                                 reduction=reduction),
            (Arg((3, 4)), Arg((3, 4)), Arg(var_shape, 0.1, 2)))


def test_gaussian_nll_loss_clamps_variance_and_errors():
    compare(lambda t, x, y, v: t.nn.functional.gaussian_nll_loss(x, y, v, eps=1e-2),
            (Arg((4,)), Arg((4,)), Arg(values=[0.0, 1e-3, 0.5, 2.0])))
    for lib in (torch, ember):
        with pytest.raises(ValueError, match="var is of incorrect size"):
            lib.nn.functional.gaussian_nll_loss(lib.ones(3, 4), lib.ones(3, 4), lib.ones(2))
        with pytest.raises(ValueError, match="var has negative entry/entries"):
            lib.nn.functional.gaussian_nll_loss(lib.ones(2), lib.ones(2), -lib.ones(2))


# ---- margin and embedding losses ----------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_cosine_embedding_loss(reduction, margin):
    compare(lambda t, a, b, y: t.nn.functional.cosine_embedding_loss(
        a, b, y, margin, reduction=reduction), (Arg((4, 5)), Arg((4, 5)), _signs((4,))))
    compare(lambda t, a, b, y: t.nn.functional.cosine_embedding_loss(
        a, b, y, margin, reduction=reduction), (Arg((5,)), Arg((5,)), Arg(values=-1.0,
                                                                          grad=False)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_and_hinge(reduction):
    compare(lambda t, a, b, y: t.nn.functional.margin_ranking_loss(a, b, y, 0.2,
                                                                   reduction=reduction),
            (Arg((6,)), Arg((6,)), _signs((6,))))
    compare(lambda t, x, y: t.nn.functional.hinge_embedding_loss(x, y, 0.7,
                                                                 reduction=reduction),
            (Arg((3, 4)), _signs((3, 4))))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_losses(reduction):
    compare(lambda t, x, y: t.nn.functional.soft_margin_loss(x, y, reduction=reduction),
            (Arg((3, 4), -4, 4), _signs((3, 4))))
    compare(lambda t, x, y: t.nn.functional.multilabel_soft_margin_loss(
        x, y, reduction=reduction), (Arg((3, 4)), Arg((3, 4), 0, 1, grad=False)))
    compare(lambda t, x, y, w: t.nn.functional.multilabel_soft_margin_loss(
        x, y, w, reduction=reduction), (Arg((3, 4)), Arg((3, 4), 0, 1, grad=False),
                                        Arg((4,), 0.5, 2, grad=False)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,margin,weighted", [(1, 1.0, False), (2, 0.5, False),
                                               (1, 2.0, True), (2, 1.0, True)])
def test_multi_margin_loss(reduction, p, margin, weighted):
    def run(t, x, y, w):
        return t.nn.functional.multi_margin_loss(x, y, p, margin, w if weighted else None,
                                                 reduction=reduction)

    compare(run, (Arg((4, 5)), _long((4,), 4), Arg((5,), 0.5, 2, grad=False)))
    compare(run, (Arg((5,)), Arg(values=2, dtype="int64", grad=False),
                  Arg((5,), 0.5, 2, grad=False)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss(reduction):
    target = [[3, 0, -1, 1], [1, 2, 3, 0], [-1, 1, 2, 3]]
    compare(lambda t, x, y: t.nn.functional.multilabel_margin_loss(x, y, reduction=reduction),
            (Arg((3, 4)), Arg(values=target, dtype="int64", grad=False)))
    compare(lambda t, x, y: t.nn.functional.multilabel_margin_loss(x, y, reduction=reduction),
            (Arg((4,)), Arg(values=[2, 0, -1, 3], dtype="int64", grad=False)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", [{}, {"p": 1.0, "margin": 0.5}, {"swap": True},
                                    {"eps": 1e-3, "p": 3.0}])
def test_triplet_margin_loss(reduction, kwargs):
    compare(lambda t, a, p, n: t.nn.functional.triplet_margin_loss(a, p, n, reduction=reduction,
                                                                   **kwargs),
            (Arg((4, 5)), Arg((4, 5)), Arg((4, 5))))
    compare(lambda t, a, p, n: t.nn.functional.triplet_margin_loss(a, p, n, reduction=reduction,
                                                                   **kwargs),
            (Arg((5,)), Arg((5,)), Arg((5,))))


@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_with_distance_loss(swap):
    def cosine_distance(t):
        return lambda a, b: 1.0 - t.nn.functional.cosine_similarity(a, b)

    compare(lambda t, a, p, n: t.nn.functional.triplet_margin_with_distance_loss(
        a, p, n, swap=swap), (Arg((4, 5)), Arg((4, 5)), Arg((4, 5))))
    compare(lambda t, a, p, n: t.nn.functional.triplet_margin_with_distance_loss(
        a, p, n, distance_function=cosine_distance(t), margin=0.5, swap=swap,
        reduction="none"), (Arg((4, 5)), Arg((4, 5)), Arg((4, 5))))


def test_triplet_dimension_error():
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="The anchor, positive, and negative tensors are "
                                               "expected to have the same number of dimensions"):
            lib.nn.functional.triplet_margin_loss(lib.ones(2, 3), lib.ones(3), lib.ones(2, 3))


# ---- ctc ----------------------------------------------------------------------------------------
def _ctc(reduction="mean", blank=0, zero_infinity=False, lengths=((6, 5, 4), (3, 2, 0)),
         unbatched=False):
    input_lengths, target_lengths = lengths

    def run(t, x, y):
        return t.nn.functional.ctc_loss(x.log_softmax(-1), y, input_lengths, target_lengths,
                                        blank=blank, reduction=reduction,
                                        zero_infinity=zero_infinity)
    return run


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_padded_targets(reduction):
    targets = [[1, 2, 2], [3, 1, 4], [2, 2, 2]]
    compare(_ctc(reduction), (Arg((6, 3, 5)), Arg(values=targets, dtype="int64", grad=False)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_concatenated_targets_and_blank(reduction):
    compare(_ctc(reduction, blank=4, lengths=((5, 6, 3), (2, 3, 1))),
            (Arg((6, 3, 5)), Arg(values=[0, 1, 1, 2, 3, 3], dtype="int64", grad=False)))


def test_ctc_tensor_lengths_and_unbatched():
    def run(t, x, y):
        return t.nn.functional.ctc_loss(x.log_softmax(-1), y, t.tensor([5, 3]),
                                        t.tensor([2, 1]), reduction="sum")

    compare(run, (Arg((5, 2, 4)), Arg(values=[[1, 3], [2, 0]], dtype="int64", grad=False)))

    def unbatched(t, x, y):
        return t.nn.functional.ctc_loss(x.log_softmax(-1), y, t.tensor(6), t.tensor(3),
                                        reduction="none")

    compare(unbatched, (Arg((6, 4)), Arg(values=[1, 1, 2], dtype="int64", grad=False)))


def test_ctc_impossible_alignment_and_zero_infinity():
    targets = [[1, 1, 2, 3], [2, 0, 0, 0]]
    for zero_infinity in (False, True):
        compare(_ctc("none", zero_infinity=zero_infinity, lengths=((3, 4), (4, 1))),
                (Arg((4, 2, 4)), Arg(values=targets, dtype="int64", grad=False)),
                grad=zero_infinity)
    compare(_ctc("mean", zero_infinity=True, lengths=((3, 4), (4, 1))),
            (Arg((4, 2, 4)), Arg(values=targets, dtype="int64", grad=False)))


def test_ctc_long_sequence():
    rng = np.random.default_rng(0)
    targets = rng.integers(1, 20, size=(4, 15)).tolist()
    compare(_ctc("mean", lengths=((50, 45, 40, 30), (15, 12, 9, 15))),
            (Arg((50, 4, 20)), Arg(values=targets, dtype="int64", grad=False)))


def test_ctc_raw_gradient_matches_torch_convention():
    """torch's ctc gradient with respect to raw log-probs includes exp(log_probs)."""
    def run(t, x, y):
        return t.nn.functional.ctc_loss(x, y, (4,), (2,), reduction="sum")

    compare(run, (Arg((4, 1, 3), -3, -0.1), Arg(values=[[1, 2]], dtype="int64", grad=False)))


def test_ctc_errors():
    x = ember.randn(5, 2, 4).log_softmax(2)
    with pytest.raises(RuntimeError, match="Expected input_lengths to have value at most 5"):
        ember.nn.functional.ctc_loss(x, ember.ones(2, 2, dtype=ember.int64), (6, 5), (2, 2))
    with pytest.raises(RuntimeError, match="blank must be in label range"):
        ember.nn.functional.ctc_loss(x, ember.ones(2, 2, dtype=ember.int64), (5, 5), (2, 2),
                                     blank=4)


# ---- modules ------------------------------------------------------------------------------------
LOSS_MODULES = [
    ("L1Loss", {}, [(3, 4), (3, 4)]),
    ("MSELoss", {"reduction": "sum"}, [(3, 4), (3, 4)]),
    ("SmoothL1Loss", {"beta": 0.5}, [(3, 4), (3, 4)]),
    ("HuberLoss", {"delta": 0.5, "reduction": "none"}, [(3, 4), (3, 4)]),
    ("SoftMarginLoss", {}, [(3, 4), "signs"]),
    ("MultiLabelSoftMarginLoss", {}, [(3, 4), "probs"]),
    ("MultiLabelMarginLoss", {}, [(2, 3), "multilabel"]),
    ("HingeEmbeddingLoss", {"margin": 0.5}, [(3, 4), "signs"]),
    ("KLDivLoss", {"reduction": "batchmean", "log_target": True}, [(3, 4), (3, 4)]),
    ("PoissonNLLLoss", {"full": True}, [(3, 4), "counts"]),
    ("BCEWithLogitsLoss", {}, [(3, 4), "probs"]),
    ("BCELoss", {}, ["unit", "probs"]),
    ("CrossEntropyLoss", {"label_smoothing": 0.1}, [(3, 4), "classes"]),
    ("CrossEntropyLoss", {"ignore_index": 1}, [(3, 4), "classes"]),
    ("NLLLoss", {}, [(3, 4), "classes"]),
    ("MultiMarginLoss", {"p": 2}, [(3, 4), "classes"]),
    ("CosineEmbeddingLoss", {"margin": 0.1}, [(3, 4), (3, 4), "signs3"]),
    ("MarginRankingLoss", {"margin": 0.1}, [(3,), (3,), "signs3"]),
    ("TripletMarginLoss", {"swap": True}, [(3, 4), (3, 4), (3, 4)]),
    ("TripletMarginWithDistanceLoss", {"margin": 2.0}, [(3, 4), (3, 4), (3, 4)]),
    ("GaussianNLLLoss", {"full": True}, [(3, 4), (3, 4), "positive"]),
]


def _module_inputs(kinds):
    specs = {"signs": _signs((3, 4)), "signs3": _signs((3,)),
             "probs": Arg((3, 4), 0, 1, grad=False), "unit": Arg((3, 4), 0.05, 0.95),
             "classes": _long((3,), 3), "counts": Arg((3, 4), 0, 4, grad=False),
             "positive": Arg((3, 4), 0.1, 2),
             "multilabel": Arg(values=[[2, -1, 0], [0, 1, 2]], dtype="int64", grad=False)}
    return tuple(specs[k] if isinstance(k, str) else Arg(k) for k in kinds)


@pytest.mark.parametrize("name,kwargs,inputs", LOSS_MODULES,
                         ids=[f"{m[0]}-{i}" for i, m in enumerate(LOSS_MODULES)])
def test_loss_modules(name, kwargs, inputs):
    def make(lib):
        return getattr(lib.nn, name)(**kwargs)

    assert repr(make(ember)) == repr(make(torch))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compare_modules(make, _module_inputs(inputs), what=name)


@pytest.mark.parametrize("name", ["CrossEntropyLoss", "NLLLoss", "BCELoss",
                                  "MultiLabelSoftMarginLoss", "MultiMarginLoss"])
def test_weighted_loss_modules_keep_weight_buffer(name):
    t = getattr(torch.nn, name)(weight=torch.ones(4))
    e = getattr(ember.nn, name)(weight=ember.ones(4))
    assert list(e.state_dict()) == list(t.state_dict()) == ["weight"]
    assert list(getattr(ember.nn, name)().state_dict()) == []


def test_bce_with_logits_module_buffers():
    t = torch.nn.BCEWithLogitsLoss(weight=torch.ones(3), pos_weight=torch.ones(3))
    e = ember.nn.BCEWithLogitsLoss(weight=ember.ones(3), pos_weight=ember.ones(3))
    assert list(e.state_dict()) == list(t.state_dict())
    compare_modules(lambda lib: lib.nn.BCEWithLogitsLoss(pos_weight=lib.full((4,), 2.0)),
                    _module_inputs([(3, 4), "probs"]))


def test_ctc_module():
    def make(lib):
        return lib.nn.CTCLoss(blank=1, zero_infinity=True)

    assert repr(make(ember)) == repr(make(torch))
    targets = [[0, 2, 3], [2, 2, 0]]
    compare(lambda t, x, y: make(t)(x.log_softmax(2), y, (5, 4), (3, 2)),
            (Arg((5, 2, 4)), Arg(values=targets, dtype="int64", grad=False)))


def test_module_validation_errors():
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        ember.nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        ember.nn.TripletMarginWithDistanceLoss(margin=0.0)


def test_nll_loss_2d_is_deprecated_alias():
    with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
        m = ember.nn.NLLLoss2d()
    assert repr(m) == "NLLLoss2d()"
    compare(lambda t, x, y: t.nn.functional.nll_loss(x, y),
            (Arg((2, 3, 2, 2), -2, 0), _long((2, 2, 2), 2)))


def _outcome(fn):
    """(dtype name, values) of a call, or (error type, message)."""
    try:
        out = fn()
    except Exception as e:  # noqa: BLE001 - the error itself is compared
        return type(e).__name__, str(e)
    return str(out.dtype).split(".")[-1], out.detach().double().numpy().round(4).tolist()


@pytest.mark.parametrize("call", [
    lambda t: t.nn.functional.binary_cross_entropy_with_logits(
        t.tensor([0.5, -1.0]), t.tensor([1.0, 0.0], dtype=t.float16), reduction="none"),
    lambda t: t.nn.functional.binary_cross_entropy_with_logits(
        t.tensor([0.5, -1.0], dtype=t.float64), t.tensor([1.0, 0.0])),
    lambda t: t.nn.functional.binary_cross_entropy_with_logits(t.tensor([0.5, -1.0]),
                                                               t.tensor([1, 0])),
    lambda t: t.nn.functional.binary_cross_entropy_with_logits(t.tensor([1, 0]),
                                                               t.tensor([1.0, 0.0])),
    lambda t: t.nn.functional.kl_div(t.tensor([0.5, -1.0]), t.tensor([1, 0]), reduction="sum"),
    lambda t: t.nn.functional.kl_div(t.tensor([1, 0]), t.tensor([0.5, 1.0]), reduction="sum"),
    lambda t: t.nn.functional.hinge_embedding_loss(
        t.tensor([-3, 0, 2, 5]), t.tensor([-1, -1, -1, 1]), margin=2.7, reduction="none"),
    lambda t: t.nn.functional.hinge_embedding_loss(
        t.tensor([-3, 0, 2, 5]), t.tensor([-1, -1, -1, 1]), reduction="sum"),
    lambda t: t.nn.functional.hinge_embedding_loss(
        t.tensor([-3, 0, 2, 5]), t.tensor([-1, -1, -1, 1])),
    lambda t: t.nn.functional.hinge_embedding_loss(
        t.tensor([-3.0, 0.0], dtype=t.float16), t.tensor([-1.0, 1.0], dtype=t.float64),
        margin=1.5, reduction="none"),
], ids=["bce_logits_target_half", "bce_logits_target_float", "bce_logits_int_target",
        "bce_logits_int_input", "kl_div_int_target", "kl_div_int_input", "hinge_int_margin",
        "hinge_int_sum", "hinge_int_mean", "hinge_half_input"])
def test_loss_dtypes_and_refusals_like_torch(call):
    """Result dtypes follow torch's kernels (bce with logits: the target's; hinge: the
    input's, the margin truncated for integers); integer inputs are refused where torch's are."""
    assert _outcome(lambda: call(ember)) == _outcome(lambda: call(torch))
