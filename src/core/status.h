// Status and Result<T>: how errors cross module edges (no exceptions between layers). They
// are part of the public client API, so they live in include/concierge/status.h.
#pragma once

#include "concierge/status.h"
