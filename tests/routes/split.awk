# split.awk: a template's rendered output as hap-reload splits it: the
# lines from "@map PATH" to "@end" into the file PATH (without the two
# marker lines), every other line into the file cfg.  A map must be a
# file directly in the directory dir (the render's EASY_LB_RUN): any
# other path, a block left open or an @end without a block is refused.
#
#   awk -v cfg=FILE -v dir=DIR -f split.awk RENDERED
# prints the path of each map on stdout.
function refuse(why) {
	printf "split.awk: %s:%d: %s\n", FILENAME, FNR, why > "/dev/stderr"
	bad = 1
	exit 1
}
BEGIN { printf "" > cfg }
/^@map / {
	if (map != "") refuse("@map inside the block of " map)
	map = substr($0, 6)
	name = substr(map, length(dir) + 2)
	if (substr(map, 1, length(dir) + 1) != dir "/" || name !~ /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/)
		refuse("the map " map " is not a file of " dir)
	if (map in seen) refuse("a second block for " map)
	seen[map] = 1
	printf "" > map
	print map
	next
}
/^@end$/ {
	if (map == "") refuse("@end without @map")
	close(map)
	map = ""
	next
}
map != "" { print > map; next }
{ print > cfg }
END {
	if (!bad && map != "") refuse("the block of " map " has no @end")
	exit bad
}
