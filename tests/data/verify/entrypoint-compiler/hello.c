#include <stdio.h>
int main(void) { puts("compiled at start"); return 0; }
