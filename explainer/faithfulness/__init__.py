"""Faithfulness of explanations: how well each one reflects what the model relies on."""
