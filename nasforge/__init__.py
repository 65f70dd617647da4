"""nasforge: Neural Architecture Search on PyTorch."""
