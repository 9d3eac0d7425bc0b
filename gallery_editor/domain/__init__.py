"""Qt-free domain layer: products, gallery working copy, save planning."""
