/* The cost of checked mode: medians of 5 runs of the same operations on an
 * unchecked and a checked heap, printed as a markdown table (make bench-checked). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "rcgc.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e9+t.tv_nsec;}
static int cmp(const void*a,const void*b){double x=*(const double*)a,y=*(const double*)b;return x<y?-1:x>y;}
static void run(int checked, double *rc, double *ch, double *cy){
  rcgc_config c; rcgc_config_init(&c); c.checked=checked; rcgc_heap *h=rcgc_heap_new_with(&c); size_t n; (void)!rcgc_disable(h);
  void *o=rcgc_slots_new(h,2); double t=now();
  for(int i=0;i<10000000;i++){rcgc_incref(o);rcgc_decref(o);} *rc=(now()-t)/1e7;
  t=now(); for(int i=0;i<1000000;i++){void*x=rcgc_slots_new(h,2);rcgc_decref(x);} *ch=(now()-t)/1e6;
  for(int i=0;i<200000;i++){void*a=rcgc_slots_new(h,2),*b=rcgc_slots_new(h,2);(void)!rcgc_slots_set(a,0,b);(void)!rcgc_slots_set(b,0,a);rcgc_decref(a);rcgc_decref(b);}
  t=now(); (void)!rcgc_collect(h,2,&n); *cy=(now()-t)/4e5;
  rcgc_decref(o); rcgc_heap_free(h);}
int main(void){ double r[2][3][5];
  for(int k=0;k<5;k++) for(int m=0;m<2;m++) run(m,&r[m][0][k],&r[m][1][k],&r[m][2][k]);
  const char*names[3]={"incref+decref pair (ns)","alloc + free of a slots object (ns)","full collection, 2-cycles (ns/object)"};
  printf("| operation | unchecked | checked | ratio |\n|---|---|---|---|\n");
  for(int q=0;q<3;q++){ qsort(r[0][q],5,sizeof(double),cmp); qsort(r[1][q],5,sizeof(double),cmp);
    printf("| %s | %.1f | %.1f | %.1fx |\n",names[q],r[0][q][2],r[1][q][2],r[1][q][2]/r[0][q][2]); }
  return 0;}
