"""Knowledge-graph construction from text (`modelyard extract-triples`): a `tags` run finds the
entities of each sentence, a `category` run reads every ordered pair of them marked in the
sentence and names their relation (or `none`), and the triples become a TSV ready for
`task: link_prediction`, a GraphML file (networkx) and RDF Turtle (rdflib).
"""
