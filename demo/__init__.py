"""Generated demo data for the registers (never real people): the embedded demo `sachsong run` publishes, and the
test and benchmark corpora. Not a room: production code reads real exports, only the CLI and tests call these."""
