"""The specification language: parse text into syntax trees, resolve and lower them to the
model, format them back to text."""
