"""One module per stage of the state machine, each with ``build(ctx) -> Stage``.

The builder chains them in the order of ``pipeline.definition.builder.STAGES``: every exit of a
stage goes on to the next stage's entry.
"""
