/* libbpf and the probe's record layout, for Swift. No logic here. */
#include "cbpf.h"
