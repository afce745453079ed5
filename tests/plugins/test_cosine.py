"""The cosine loss: CosineSimilarityLoss regresses cos(u, v) onto 0-1 scores."""

from __future__ import annotations

from hubembed_plugins.losses.cosine import CosineLoss


def test_training_pulls_cosine_towards_the_score(tiny_model):
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    model = SentenceTransformer(tiny_model, device="cpu")
    module = CosineLoss().build(model)
    assert isinstance(module, CosineSimilarityLoss)
    a, b = ["A man is playing a guitar."], ["The stock market fell sharply today."]

    def cosine() -> float:
        with torch.no_grad():
            u, v = model.encode(a + b, convert_to_tensor=True)
        return torch.nn.functional.cosine_similarity(u, v, dim=0).item()

    before = cosine()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    model.train()
    for _ in range(5):  # say these two unrelated sentences are identical (score 1.0)
        loss = module([model.preprocess(a), model.preprocess(b)], torch.tensor([1.0]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    assert cosine() > before


def test_trains_on_scored_pairs_only():
    assert CosineLoss.expects == ("pair-score",) and CosineLoss.in_batch_negatives is False
