"""`task: link_prediction`: knowledge-graph embeddings (TransE, DistMult, ComplEx, RotatE,
TuckER) trained on (head, relation, tail) triples, evaluated by filtered ranking, applied to
(h, r, ?) and (?, r, t) queries. model.py is the entry point (`LinkPredictor`)."""
