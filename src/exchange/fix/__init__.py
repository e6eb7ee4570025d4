"""FIX 4.4 for institutions: our session layer over simplefix's codec."""
