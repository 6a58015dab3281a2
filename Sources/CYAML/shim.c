/* Empty: the target exists to carry libyaml's header and link it (see include/cyaml.h). */
#include "cyaml.h"
