"""Evaluation: features per block (checked against vit.capture), kNN, linear probe, fine-tuning."""

import pytest
import torch

from sslvit_lite.data import CIFAR10_MEAN, CIFAR10_STD, normalize
from sslvit_lite.probing import (
    evaluation_split,
    extract_features,
    finetune,
    finetune_param_groups,
    knn_accuracy,
    layer_id,
    linear_probe_accuracy,
    random_crop_flip,
)
from sslvit_lite.vit import build_vit, capture


def tiny_vit(depth=3):
    torch.manual_seed(0)
    return build_vit("vit_tiny", img_size=16, patch_size=4, depth=depth, embed_dim=32, num_heads=2)


def uint8_images(n, seed=0):
    return torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def blobs(n_per_class, num_classes, dim, spread, seed):
    """Gaussian blobs around orthogonal class centres: (N, dim) features, (N,) labels."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)  # (N,)
    centres = 5.0 * torch.eye(num_classes, dim)  # (classes, dim)
    return centres[labels] + spread * torch.randn(len(labels), dim, generator=g), labels


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_features_match_captured_block_outputs(pool):
    model = tiny_vit().train()
    images = uint8_images(5)
    features = extract_features(model, images, CIFAR10_MEAN, CIFAR10_STD, pool=pool, batch_size=2)
    assert model.training  # mode restored
    assert list(features) == [1, 2, 3, "final"]
    model.eval()
    with torch.no_grad(), capture(model) as cap:
        final = model.forward_features(normalize(images, CIFAR10_MEAN, CIFAR10_STD))  # (5, 17, 32)
    for l in (1, 2, 3):
        tokens = cap.block_outputs[l]  # (5, 17, 32): output of block l, no final norm
        expected = tokens[:, 0] if pool == "cls" else tokens[:, 1:].mean(1)
        torch.testing.assert_close(features[l], expected)
    torch.testing.assert_close(features["final"], final[:, 0] if pool == "cls" else final[:, 1:].mean(1))
    assert not torch.allclose(features[3], features["final"])  # the final norm makes a difference


def test_feature_subset_and_validation():
    model = tiny_vit()
    images = uint8_images(3)
    features = extract_features(model, images, CIFAR10_MEAN, CIFAR10_STD, blocks=[2, 1])
    assert list(features) == [1, 2] and features[1].shape == (3, 32) and features[1].dtype == torch.float32
    with pytest.raises(ValueError, match="1..3"):
        extract_features(model, images, CIFAR10_MEAN, CIFAR10_STD, blocks=[0])
    with pytest.raises(ValueError, match="cls, mean"):
        extract_features(model, images, CIFAR10_MEAN, CIFAR10_STD, pool="max")
    with pytest.raises(ValueError, match="uint8"):
        extract_features(model, images.float(), CIFAR10_MEAN, CIFAR10_STD)


def test_knn_separable_is_perfect_and_random_labels_are_chance():
    train_x, train_y = blobs(50, 5, 16, 0.3, seed=0)
    test_x, test_y = blobs(20, 5, 16, 0.3, seed=1)
    assert knn_accuracy(train_x, train_y, test_x, test_y) == 1.0
    g = torch.Generator().manual_seed(0)
    noise_train, noise_test = torch.randn(2000, 16, generator=g), torch.randn(2000, 16, generator=g)
    labels_train, labels_test = torch.randint(0, 10, (2000,), generator=g), torch.randint(0, 10, (2000,), generator=g)
    assert abs(knn_accuracy(noise_train, labels_train, noise_test, labels_test) - 0.1) < 0.03


def test_knn_votes_are_temperature_weighted():
    """k = 3: one very close neighbour of class 1 against two farther ones of class 0."""
    train = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.8, -0.6]])  # cosines to the query: 1, 0.8, 0.8
    labels = torch.tensor([1, 0, 0])
    query, query_label = torch.tensor([[1.0, 0.0]]), torch.tensor([1])
    # sharp weights: exp(1/0.07) > 2·exp(0.8/0.07), the close neighbour wins
    assert knn_accuracy(train, labels, query, query_label, k=3, temperature=0.07) == 1.0
    # flat weights: exp(1/10) < 2·exp(0.8/10), the majority wins
    assert knn_accuracy(train, labels, query, query_label, k=3, temperature=10.0) == 0.0
    with pytest.raises(ValueError, match="k must be"):
        knn_accuracy(train, labels, query, query_label, k=4)


def test_linear_probe_separable_and_random():
    train_x, train_y = blobs(40, 4, 16, 0.5, seed=0)
    test_x, test_y = blobs(20, 4, 16, 0.5, seed=1)
    assert linear_probe_accuracy(train_x, train_y, test_x, test_y, epochs=30, batch_size=32) >= 0.99
    g = torch.Generator().manual_seed(0)
    noise_x = torch.randn(600, 16, generator=g)
    noise_y = torch.randint(0, 4, (600,), generator=g)
    accuracy = linear_probe_accuracy(noise_x[:400], noise_y[:400], noise_x[400:], noise_y[400:], epochs=10, batch_size=64)
    assert abs(accuracy - 0.25) < 0.12
    with pytest.raises(ValueError, match="features must be"):
        linear_probe_accuracy(train_x, train_y[:-1], test_x, test_y)


def test_layer_decay_groups():
    model = tiny_vit(depth=3)
    assert layer_id("cls_token", 3) == layer_id("patch_embed.proj.weight", 3) == 0
    assert layer_id("blocks.0.attn.qkv.weight", 3) == 1 and layer_id("blocks.2.mlp.fc1.bias", 3) == 3
    assert layer_id("norm.weight", 3) == layer_id("head.weight", 3) == 4
    groups = finetune_param_groups(model, weight_decay=0.05, layer_decay=0.5)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    by_param = {id(p): g for g in groups for p in g["params"]}
    assert by_param[id(model.cls_token)]["lr_scale"] == 0.5**4 and by_param[id(model.cls_token)]["weight_decay"] == 0.0
    qkv = by_param[id(model.blocks[2].attn.qkv.weight)]
    assert qkv["lr_scale"] == 0.5 and qkv["weight_decay"] == 0.05
    assert by_param[id(model.norm.weight)]["lr_scale"] == 1.0 and by_param[id(model.norm.weight)]["weight_decay"] == 0.0


def test_random_crop_flip():
    images = uint8_images(16)
    unpadded = random_crop_flip(images, 0, torch.Generator().manual_seed(0))
    for out, image in zip(unpadded, images):
        assert torch.equal(out, image) or torch.equal(out, image.flip(-1))
    ones = torch.full((16, 3, 16, 16), 255, dtype=torch.uint8)
    shifted = random_crop_flip(ones, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == ones.shape and shifted.dtype == torch.uint8
    assert (shifted[:, :, 2:-2, 2:-2] == 255).all()  # a shift of at most 2 px leaves the centre intact
    assert (shifted == 0).any()  # some padding came in


def test_finetune_learns_a_simple_task_and_leaves_the_backbone_alone():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(96) % 2  # class 0: dark images, class 1: bright images
    base = torch.where(labels[:, None, None, None] == 1, 170, 60)
    images = (base + torch.randint(-40, 40, (96, 3, 16, 16), generator=g)).clamp(0, 255).to(torch.uint8)
    model = tiny_vit(depth=2)
    model.patch_embed.requires_grad_(False)  # as MoCo v3 leaves it
    before = {k: v.clone() for k, v in model.state_dict().items()}
    accuracy = finetune(model, images[:64], labels[:64], images[64:], labels[64:], CIFAR10_MEAN, CIFAR10_STD, epochs=8, batch_size=16)
    assert accuracy >= 0.9
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model.patch_embed.proj.weight.requires_grad


# --------------------------------------------------------------------------- labelled images


def test_sample_split_is_disjoint_capped_shuffled_and_seeded():
    train, test = evaluation_split("cifar10", "sample", img_size=8, seed=0)
    assert (len(train), len(test)) == (1000, 1000)  # the 2,000-image sample cut in halves
    flat_train = {bytes(im.flatten().tolist()) for im in train.images}
    assert not any(bytes(im.flatten().tolist()) in flat_train for im in test.images)
    assert len(set(train.labels[:50].tolist())) > 3, "the class-sorted sample must be shuffled"
    small_train, big_test = evaluation_split("cifar10", "sample", img_size=8, num_train=300, num_test=1500)
    assert (len(small_train), len(big_test)) == (300, 1000)
    again, _ = evaluation_split("cifar10", "sample", img_size=8, num_train=300, num_test=1500)
    other, _ = evaluation_split("cifar10", "sample", img_size=8, num_train=300, num_test=1500, seed=1)
    assert torch.equal(again.images, small_train.images) and not torch.equal(other.images, small_train.images)
    assert "probe-train part of 300" in small_train.source and small_train.images.shape[-1] == 8


def test_split_rejects_tiny_sizes():
    with pytest.raises(ValueError, match="num_train"):
        evaluation_split("cifar10", "sample", img_size=8, num_train=1)
