/* Non-blocking socket helpers (include/xpoll/net.h). */
#include "xpoll/net.h"
