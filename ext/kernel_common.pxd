# Shared, header-style declarations for contagion's kernels (no runtime module).

cdef extern from *:
    """
    #ifndef CONTAGION_DEBUG
    #define CONTAGION_DEBUG 0
    #endif
    """
    const int CONTAGION_DEBUG
