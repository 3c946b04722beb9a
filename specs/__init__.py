"""The specification language's grammar (``dmabuf.lark``) and the shipped specs, as package
data so that an installed dmabuf-check finds them."""
