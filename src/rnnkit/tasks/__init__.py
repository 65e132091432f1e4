"""End-to-end task pipelines built on the layers and models."""
