"""The release strategy: the layout of releases on a host, its flows, blue/green switching
and the conversion of a host the manual strategy served."""
