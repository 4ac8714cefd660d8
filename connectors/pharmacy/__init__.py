"""What the central pharmacy runs: the live view of stock, shortages and orders."""
