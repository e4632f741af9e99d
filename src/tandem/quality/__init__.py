"""Quality control built into the loop: sampling plans, reviews, accuracy (issue 4, begun)."""
