/* The SOCKS parser under test, compiled into the test programs of tests/
 * (automake keeps objects of other folders' sources out of this one). */
#include "../../plugins/ssh-forward/socks.c"
