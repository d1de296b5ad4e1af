"""Trusted grading engine and hidden graders of the kit. Never shipped to students."""
