"""Loss terms of every training method, on hand-computed values and a real tiny GRU model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from rationalizer.errors import UnknownNameError
from rationalizer.models import ModelConfig, RationalizerModel
from rationalizer.training.methods import (
    LossWeights,
    available_methods,
    continuity_loss,
    get_method,
    get_method_class,
    keep_mask,
    shortcut_methods,
    sparsity_loss,
    supervision_loss,
    task_loss,
    uniform_kl,
)

#: The methods of the SSR paper's comparison and the full-text reference, as registered
PAPER_METHODS = ("rnp", "fr", "semi", "supervised", "ssr-unif", "ssr-virt", "full-text")
#: Every registered rationalizer, by whether a human rationale supervises its selector
UNSUPERVISED = [
    m
    for m in available_methods()
    if get_method_class(m).selects and not get_method_class(m).supervises_selector
]
SUPERVISED = [m for m in available_methods() if get_method_class(m).supervises_selector]
RATE = 0.25  # target selection rate k of every method test
WEIGHTS = LossWeights(
    sparsity=0.5, continuity=0.25, selection_rate=RATE, supervision=2.0, shortcut=0.3
)


# ----------------------------------------------------------------------------- loss functions


def test_task_loss_is_the_cross_entropy_of_each_example():
    logits = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]])
    # p(label 0) = 3/4 in row 0; row 1 is uniform
    expected = torch.tensor([math.log(4 / 3), math.log(2.0)])
    assert torch.allclose(task_loss(logits, torch.tensor([0, 1])), expected)


def test_sparsity_is_the_distance_of_the_selected_share_of_selectable_positions_to_k():
    # row 0: selectable 1, .5, 0, 0 (a forced position at 1 and padding do not count): 1.5/4
    # row 1: all three selectable positions selected: 3/3
    mask = torch.tensor([[1.0, 0.5, 0.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]])
    selectable = torch.tensor([[1, 1, 1, 1, 0, 0], [0, 1, 1, 1, 0, 0]], dtype=torch.bool)
    got = sparsity_loss(mask, selectable, rate=0.1)
    assert torch.allclose(got, torch.tensor([abs(1.5 / 4 - 0.1), abs(1.0 - 0.1)]))


def test_continuity_counts_only_pairs_of_neighbouring_selectable_positions():
    # row 0: pairs (0,1) (1,2) (2,3) are selectable: |1-0| + |0-1| + |1-1| over 3 pairs; the
    # jump into the forced position 4 and the padding after it do not count
    # row 1: one selectable position, no pair at all: 0
    mask = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]])
    selectable = torch.tensor([[1, 1, 1, 1, 0, 0], [0, 0, 1, 0, 0, 0]], dtype=torch.bool)
    got = continuity_loss(mask, selectable)
    assert torch.allclose(got, torch.tensor([2 / 3, 0.0]))


def test_supervision_scores_only_positions_the_selector_decides():
    # Selectable positions: logits (0, ln 3) give p(select) = 3/4, so a gold 1 costs ln(4/3)
    # and a gold 0 costs ln 4; (0, 0) costs ln 2 either way. The other positions (a forced
    # special token, padding) carry confidently wrong logits that must not count.
    wrong = [50.0, -50.0]
    logits = torch.tensor(
        [
            [[0.0, math.log(3)], [0.0, math.log(3)], [0.0, 0.0], wrong, wrong],
            [wrong, [0.0, math.log(3)], wrong, wrong, wrong],
        ]
    )
    gold = torch.tensor([[1.0, 0.0, 1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0, 1.0]])
    selectable = torch.tensor([[1, 1, 1, 0, 0], [0, 1, 0, 0, 0]], dtype=torch.bool)
    expected = torch.tensor([(math.log(4 / 3) + math.log(4) + math.log(2)) / 3, math.log(4 / 3)])
    assert torch.allclose(supervision_loss(logits, gold, selectable), expected)


def test_uniform_kl_is_zero_for_uniform_and_log_c_in_the_one_hot_limit():
    assert torch.allclose(uniform_kl(torch.zeros(2, 3)), torch.zeros(2), atol=1e-7)
    assert torch.allclose(uniform_kl(torch.full((1, 4), 7.0)), torch.zeros(1), atol=1e-6)
    one_hot = uniform_kl(torch.tensor([[100.0, 0.0, 0.0], [0.0, 0.0, 100.0]]))
    assert torch.allclose(one_hot, torch.full((2,), math.log(3)), atol=1e-6)
    # p = (1/2, 1/4, 1/4): Σ p ln p + ln 3 = ln 3 − 1.5 ln 2
    half_quarter = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))
    assert uniform_kl(half_quarter).item() == pytest.approx(math.log(3) - 1.5 * math.log(2))


def test_keep_mask_keeps_forced_positions_and_hides_padding():
    batch = {
        "attention_mask": torch.tensor([[1, 1, 1, 1, 1, 0]]),
        "selectable": torch.tensor([[0, 0, 1, 1, 1, 0]], dtype=torch.bool),
    }
    selected = torch.tensor([[0.0, 0.0, 0.3, 1.0, 0.0, 1.0]])
    # positions 0-1 (query/special) always kept; 2-4 as selected; 5 is padding
    expected = torch.tensor([[1.0, 1.0, 0.3, 1.0, 0.0, 0.0]])
    assert torch.equal(keep_mask(batch, selected), expected)


# ----------------------------------------------------------------------------- a real model

VOCAB = 20


def make_batch(
    has_gold: tuple[bool, ...] = (True, True, False, False),
    shortcut_rows: tuple[int, ...] = (0,),
) -> dict[str, torch.Tensor]:
    """Four examples over six positions, with the training batch keys.

    Row 0 is ``q q <sep> w w w`` (a query, then three document words); rows 1-3 are documents
    of 5, 4 and 6 words. Rows 0 and 1 have gold rationales; the shortcut of row 0 is its last
    word, that of row 1 its third (used when row 1 is in ``shortcut_rows``).
    """
    lengths = torch.tensor([[6], [5], [4], [6]])
    attention_mask = (torch.arange(6) < lengths).long()
    word_ids = torch.where(attention_mask.bool(), torch.arange(6), torch.tensor(-1)).clone()
    word_ids[0] = torch.tensor([-1, -1, -1, 0, 1, 2])
    gold_mask = torch.zeros(4, 6)
    gold_mask[0, 3] = 1.0
    gold_mask[1, :2] = 1.0
    has_gold_tensor = torch.tensor(has_gold)
    gold_mask[~has_gold_tensor] = 0.0
    shortcut_mask = torch.zeros(4, 6)
    for row, position in ((0, 5), (1, 2)):
        if row in shortcut_rows:
            shortcut_mask[row, position] = 1.0
    return {
        "input_ids": torch.randint(1, VOCAB, (4, 6), generator=torch.Generator().manual_seed(1))
        * attention_mask,
        "attention_mask": attention_mask,
        "token_type_ids": torch.zeros(4, 6, dtype=torch.long),
        "word_ids": word_ids,
        "selectable": word_ids >= 0,
        "labels": torch.tensor([0, 1, 1, 0]),
        "gold_mask": gold_mask,
        "has_gold": has_gold_tensor,
        "shortcut_mask": shortcut_mask,
        "has_shortcut": has_gold_tensor & (shortcut_mask > 0).any(-1),
        "is_augmented": torch.zeros(4, dtype=torch.bool),
        "index": torch.arange(4),
    }


def make_model(method: str) -> RationalizerModel:
    """A tiny GRU model with random embeddings and the architecture ``method`` asks for."""
    cls = get_method_class(method)
    torch.manual_seed(0)
    config = ModelConfig(
        encoder="gru",
        num_labels=2,
        vocab_size=VOCAB,
        embedding_dim=8,
        hidden_size=6,
        shared_encoder=cls.shared_encoder,
        virtual_encoder=cls.virtual_encoder,
        selects=cls.selects,
        dropout=0.0,  # so that rerunning the predictor by hand gives the same logits
    )
    model = RationalizerModel.build(config)
    with torch.no_grad():  # confident predictions, so that KL to uniform is far from 0
        model.predictor_linear.weight.mul_(30.0)
    return model


def run(method: str, batch: dict[str, torch.Tensor], model: RationalizerModel | None = None):
    """(model, output, loss terms) of one training step's forward pass."""
    model = model or make_model(method)
    torch.manual_seed(1)  # the Gumbel noise
    out = model(batch, sample=True)
    return model, out, get_method(method, WEIGHTS).losses(model, batch, out)


def by_hand_sparsity(mask: torch.Tensor, batch, rows: list[int]) -> float:
    """Mean |selected share of the document words − k| over ``rows``."""
    shares = [float(mask[r][batch["selectable"][r]].detach().mean()) for r in rows]
    return sum(abs(share - RATE) for share in shares) / len(rows)


def kl_to_uniform(logits: torch.Tensor) -> torch.Tensor:
    """KL(p ‖ uniform) per row, written out: Σ p (ln p − ln(1/C))."""
    p = torch.softmax(logits, -1)
    return (p * (p.log() + math.log(logits.shape[-1]))).sum(-1)


@pytest.mark.parametrize("method", UNSUPERVISED)
def test_unsupervised_methods_never_use_gold_rationales(method):
    batch = make_batch()  # rows 0 and 1 are marked as annotated
    model, out, terms = run(method, batch)
    assert set(terms) == {"task", "sparsity", "continuity"}
    # every example counts as unannotated: the task loss is over all four
    assert terms["task"].item() == pytest.approx(
        F.cross_entropy(out.logits, batch["labels"]).item()
    )
    expected = WEIGHTS.sparsity * by_hand_sparsity(out.mask, batch, [0, 1, 2, 3])
    assert terms["sparsity"].item() == pytest.approx(expected, rel=1e-5)
    # the gold masks do not matter at all
    other = dict(batch, gold_mask=1.0 - batch["gold_mask"])
    again = get_method(method, WEIGHTS).losses(model, other, out)
    assert all(torch.equal(again[name], terms[name]) for name in terms)


@pytest.mark.parametrize("method", SUPERVISED)
def test_supervised_methods_supervise_the_selector_on_annotated_examples(method):
    batch = make_batch()
    _, out, terms = run(method, batch)
    assert {"task", "sparsity", "continuity", "supervision", "annotated_task"} <= set(terms)
    # the selector's cross-entropy on rows 0 and 1, over their document words only
    log_p = torch.log_softmax(out.selector_logits, -1)
    per_row = []
    for r in (0, 1):
        words = batch["selectable"][r]
        gold = batch["gold_mask"][r][words].long()
        per_row.append(-log_p[r][words].gather(-1, gold[:, None]).mean())
    supervision = WEIGHTS.supervision * torch.stack(per_row).mean()
    assert terms["supervision"].item() == pytest.approx(supervision.item(), rel=1e-5)
    # the RNP terms only over the unannotated rows 2 and 3
    task = F.cross_entropy(out.logits[2:], batch["labels"][2:])
    assert terms["task"].item() == pytest.approx(task.item(), rel=1e-5)
    sparsity = WEIGHTS.sparsity * by_hand_sparsity(out.mask, batch, [2, 3])
    assert terms["sparsity"].item() == pytest.approx(sparsity, rel=1e-5)


def test_a_batch_of_annotated_examples_has_no_unannotated_terms():
    # what the supervised method sees: every example annotated
    batch = make_batch(has_gold=(True, True, True, True))
    _, _, terms = run("supervised", batch)
    assert terms["task"].item() == terms["sparsity"].item() == terms["continuity"].item() == 0.0
    assert terms["supervision"].item() > 0.0
    assert get_method_class("supervised").annotates_everything
    assert not get_method_class("semi").annotates_everything


def test_annotated_task_input_full_selected_or_gold():
    batch = make_batch()
    model, out, _ = run("semi", batch)
    labels = batch["labels"][:2]
    real = batch["attention_mask"].float()
    # gold: the gold words plus the forced positions (query and <sep> of row 0), not padding
    gold_keep = batch["gold_mask"] + (real * ~batch["selectable"])
    inputs = {
        "full": model.classify(batch, real),
        "selected": out.logits,
        "gold": model.classify(batch, gold_keep),
    }
    found = {}
    for source, logits in inputs.items():
        weights = LossWeights(**{**WEIGHTS.__dict__, "annotated_task_input": source})
        terms = get_method("semi", weights).losses(model, batch, out)
        expected = F.cross_entropy(logits[:2], labels)
        assert terms["annotated_task"].item() == pytest.approx(expected.item(), rel=1e-5)
        found[source] = terms["annotated_task"].item()
    assert len(set(found.values())) == 3  # three different inputs, three different losses


def _encoded_rows(model: RationalizerModel) -> list[tuple[int, int]]:
    """(rows, positions) of every batch the model's predictor/selector encoder reads, as a
    list that fills while the model runs."""
    shapes: list[tuple[int, int]] = []
    model.encoder.register_forward_hook(lambda _m, args, _out: shapes.append(args[0].shape))
    return shapes


@pytest.mark.parametrize(
    ("method", "source", "extra_pass"),
    [
        ("ssr-unif", "full", "shortcut inputs"),
        ("ssr-virt", "full", "shortcut target"),
        ("semi", "gold", "gold inputs"),
    ],
)
def test_passes_only_some_examples_need_read_only_those_rows(method, source, extra_pass):
    """Beyond the selector's and the predictor's passes over the batch, a pass for the annotated
    examples (gold inputs) or those with shortcuts reads their rows alone, cut to their length:
    rows 0 and 1 here, six and five positions long."""
    batch = make_batch(shortcut_rows=(0, 1))
    model = make_model(method)
    shapes = _encoded_rows(model)
    weights = LossWeights(**{**WEIGHTS.__dict__, "annotated_task_input": source})
    torch.manual_seed(1)
    out = model(batch, sample=True)
    get_method(method, weights).losses(model, batch, out)
    assert shapes[:2] == [(4, 6), (4, 6)]  # selector and predictor passes over the batch
    assert shapes[2:] == [(2, 6)], extra_pass


def test_a_pass_of_some_rows_is_cut_to_the_longest_of_them():
    """Annotated rows 1 and 2 are five and four positions long: their gold pass reads five of
    the batch's six positions."""
    batch = make_batch(has_gold=(False, True, True, False), shortcut_rows=())
    model = make_model("semi")
    shapes = _encoded_rows(model)
    weights = LossWeights(**{**WEIGHTS.__dict__, "annotated_task_input": "gold"})
    torch.manual_seed(1)
    out = model(batch, sample=True)
    get_method("semi", weights).losses(model, batch, out)
    assert shapes[2:] == [(2, 5)]


def _gradients(terms: dict[str, torch.Tensor], model: RationalizerModel) -> list[torch.Tensor]:
    parameters = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(
        sum(terms.values()), parameters, retain_graph=True, allow_unused=True
    )
    return [torch.zeros_like(p) if g is None else g for p, g in zip(parameters, grads, strict=True)]


def test_ssr_unif_without_shortcuts_is_exactly_semi():
    batch = make_batch(shortcut_rows=())
    model, out, terms = run("ssr-unif", batch)
    assert terms["shortcut_uniform"].item() == 0.0
    assert not terms["shortcut_uniform"].requires_grad
    semi = get_method("semi", WEIGHTS).losses(model, batch, out)
    assert set(terms) - set(semi) == {"shortcut_uniform"}
    for ours, theirs in zip(_gradients(terms, model), _gradients(semi, model), strict=True):
        assert torch.equal(ours, theirs)


def test_ssr_unif_pushes_shortcut_only_predictions_to_uniform_skipping_empty_shortcuts():
    batch = make_batch(shortcut_rows=(0,))  # row 1 is annotated but has no shortcut
    model, _, terms = run("ssr-unif", batch)
    # row 0 read with only its shortcut word (position 5) plus its query and <sep>
    keep = torch.zeros(4, 6)
    keep[0] = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    keep[1, 2] = 1.0
    kl = kl_to_uniform(model.classify(batch, keep))
    assert terms["shortcut_uniform"].item() == pytest.approx(WEIGHTS.shortcut * kl[0].item())
    # averaging in row 1 (an input of nothing) would change it
    assert kl[1].item() != pytest.approx(kl[0].item())
    both = make_batch(shortcut_rows=(0, 1))
    _, _, with_row_1 = run("ssr-unif", both, model)
    expected = WEIGHTS.shortcut * kl[:2].mean().item()
    assert with_row_1["shortcut_uniform"].item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    ("has_gold", "shortcut_rows", "expected"),
    [
        (
            (True, True, False, False),
            (0,),
            {"virtual_distance", "virtual_task", "virtual_uniform"},
        ),
        ((True, True, True, True), (0, 1), {"virtual_distance", "virtual_task"}),
        ((False, False, False, False), (), {"virtual_uniform"}),
        ((True, True, False, False), (), {"virtual_uniform"}),  # D_s without shortcuts
    ],
)
def test_ssr_virt_terms_follow_the_subsets(has_gold, shortcut_rows, expected):
    batch = make_batch(has_gold=has_gold, shortcut_rows=shortcut_rows)
    model, _, terms = run("ssr-virt", batch)
    virtual_terms = {name for name in terms if name.startswith("virtual")}
    assert virtual_terms == expected
    virtual = model.virtual_represent(batch)
    if "virtual_distance" in expected:
        rows = list(shortcut_rows)
        shortcut_keep = batch["shortcut_mask"] + (
            batch["attention_mask"].float() * ~batch["selectable"]
        )
        target = model.represent(batch, shortcut_keep)
        distance = ((virtual - target) ** 2).mean(-1)[rows].mean()
        assert terms["virtual_distance"].item() == pytest.approx(distance.item(), rel=1e-5)
        task = F.cross_entropy(model.head(virtual)[rows], batch["labels"][rows])
        assert terms["virtual_task"].item() == pytest.approx(task.item(), rel=1e-5)
    if "virtual_uniform" in expected:
        rows = [r for r in range(4) if not has_gold[r]]
        kl = kl_to_uniform(model.head(virtual))[rows].mean()
        expected_kl = WEIGHTS.shortcut * kl.item()
        assert terms["virtual_uniform"].item() == pytest.approx(expected_kl, rel=1e-5)


def test_ssr_virt_trains_v_to_imitate_and_only_the_head_to_be_unsure():
    batch = make_batch()
    model, _, terms = run("ssr-virt", batch)

    def touched(term: str) -> set[str]:
        grads = _gradients({term: terms[term]}, model)
        names = [n for n, p in model.named_parameters() if p.requires_grad]
        return {n.split(".")[0] for n, g in zip(names, grads, strict=True) if g.abs().sum() > 0}

    # the distance moves V towards the (fixed) shortcut representation of the shared encoder
    assert touched("virtual_distance") == {"virtual_encoder"}
    # on D_u, V is fixed: only the predictor head learns to be unsure of what V sees
    assert touched("virtual_uniform") == {"predictor_linear"}


def test_full_text_reads_every_real_position_and_learns_only_the_task():
    batch = make_batch()
    model, out, terms = run("full-text", batch)
    assert model.selector_head is None
    assert not any(name.startswith("selector") for name in model.state_dict())
    assert torch.equal(out.mask, batch["attention_mask"].float())
    # certain "select" on real positions, certain "drop" on padding; argmax agrees
    assert torch.equal(torch.softmax(out.selector_logits, -1)[..., 1], out.mask)
    assert torch.equal(out.logits, model.classify(batch, batch["attention_mask"].float()))
    # one term: the cross-entropy over every example, annotated or not
    assert set(terms) == {"task"}
    assert terms["task"].item() == pytest.approx(
        F.cross_entropy(out.logits, batch["labels"]).item()
    )


def test_the_methods_table_of_the_docs_lists_every_registered_method():
    docs = Path(__file__).parents[2] / "docs" / "training.md"
    lines = docs.read_text(encoding="utf-8").splitlines()
    start = lines.index(
        "| method | encoders | loss on unannotated examples | loss on annotated examples |"
    )
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("| `"):
            break
        rows.append(line.split("`")[1])
    assert rows == list(available_methods())


def test_the_readme_names_every_registered_method_where_it_documents_train():
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### `rationalizer train ", 1)[1].split("\n### ", 1)[0]
    missing = [name for name in available_methods() if f"`{name}`" not in section]
    assert not missing, f"README's train section does not name {missing}"


def test_methods_are_registered_with_their_architecture():
    methods = available_methods()
    assert tuple(methods) == PAPER_METHODS
    assert all(methods.values())
    assert [m for m in methods if not get_method_class(m).shared_encoder] == ["rnp"]
    assert [m for m in methods if get_method_class(m).virtual_encoder] == ["ssr-virt"]
    assert shortcut_methods() == ("ssr-unif", "ssr-virt")
    assert [m for m in methods if not get_method_class(m).selects] == ["full-text"]
    with pytest.raises(UnknownNameError, match="unknown method 'lasso'"):
        get_method("lasso", WEIGHTS)


def test_supervision_class_weight_scales_rationale_tokens_only():
    # two selectable tokens, both with logits (0, 0): each costs ln 2 unweighted.
    # gold = [1, 0]; with rationale weight 9 the per-example mean is (9 ln 2 + ln 2) / 2 = 5 ln 2.
    logits = torch.zeros(1, 2, 2)
    gold = torch.tensor([[1.0, 0.0]])
    selectable = torch.tensor([[True, True]])
    assert supervision_loss(logits, gold, selectable).item() == pytest.approx(math.log(2))
    weighted = supervision_loss(logits, gold, selectable, rationale_weight=9.0)
    assert weighted.item() == pytest.approx(5 * math.log(2))
