import torch
import transformers as t

from modelyard.tasks.language_model import LanguageModelLoss


def _tiny_bert() -> t.BertForMaskedLM:
    torch.manual_seed(0)
    config = t.BertConfig(
        vocab_size=50,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=16,
    )
    return t.BertForMaskedLM(config).eval()


def test_masked_loss_matches_transformers_and_its_gradients():
    model = _tiny_bert()
    ids = torch.randint(5, 50, (3, 16))
    labels = torch.full_like(ids, -100)
    labels[:, ::4] = ids[:, ::4]
    reference = model(input_ids=ids, labels=labels).loss
    reference.backward()
    expected = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    ours = LanguageModelLoss(model, "bert")(ids, labels)
    ours.backward()
    torch.testing.assert_close(ours, reference)
    for name, grad in expected.items():
        torch.testing.assert_close(dict(model.named_parameters())[name].grad, grad)


def test_causal_loss_is_the_model_loss():
    torch.manual_seed(0)
    config = t.GPT2Config(vocab_size=50, n_embd=32, n_layer=2, n_head=2, n_positions=16)
    model = t.GPT2LMHeadModel(config).eval()
    ids = torch.randint(0, 50, (2, 16))
    torch.testing.assert_close(
        LanguageModelLoss(model, "gpt2")(ids, ids), model(input_ids=ids, labels=ids).loss
    )
