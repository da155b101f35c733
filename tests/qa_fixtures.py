"""A tiny randomly initialised BERT question-answering checkpoint with a pair-aware fast
tokenizer, and tiny (question, context, answer) rows; no downloads."""

from __future__ import annotations

from pathlib import Path

PLACES = ["mat", "park", "house", "garden", "river", "school"]
ANIMALS = ["cat", "dog", "fox", "bird", "horse", "cow"]


def rows(count: int, start: int = 0) -> list[dict]:
    """Questions "where is the <animal> ?" on "the <animal> sat in the <place> ." sentences."""
    out = []
    for i in range(start, start + count):
        animal, place = ANIMALS[i % len(ANIMALS)], PLACES[(i * 5 + 1) % len(PLACES)]
        other = ANIMALS[(i + 1) % len(ANIMALS)]
        context = f"a {other} ran far . the {animal} sat in the {place} today ."
        answer = f"the {place}"
        out.append(
            {
                "id": f"q{i}",
                "title": f"article{i % 5}",
                "question": f"where did the {animal} sit ?",
                "context": context,
                "answer": answer,
                "answer_start": context.index(answer),
                "answers": f'["{answer}", "{place}"]',
            }
        )
    return out


def tiny_tokenizer():
    """A lowercase WordPiece fast tokenizer over the rows' words, with BERT's pair template."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    corpus = [r["question"] + " " + r["context"] for r in rows(36)] * 3
    tok.train_from_iterator(
        corpus, trainers.WordPieceTrainer(vocab_size=120, special_tokens=specials)
    )
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def save_tiny_qa_checkpoint(folder: Path) -> Path:
    """A 2-layer, hidden-32 BERT (encoder only, as a pretrained encoder is) with its tokenizer."""
    import torch
    import transformers as t

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    config = t.BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    folder.mkdir(parents=True, exist_ok=True)
    t.BertModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder
