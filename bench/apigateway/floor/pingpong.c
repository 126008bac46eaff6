// Round trip between this driver and one Python worker (worker.py) over a Unix
// socketpair: send the event frame, wait for the reply by spinning on a
// non-blocking recv (spin=1) or blocking (spin=0). Prints p50/p99 in µs.
// Usage: pingpong SPIN ROUNDS WORKER_PY EVENT_FRAME_FILE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/wait.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){
  int spin=atoi(argv[1]); int n=atoi(argv[2]);
  FILE*f=fopen(argv[4],"rb"); static char frame[8192]; int len=fread(frame,1,sizeof frame,f); fclose(f);
  int sv[2]; socketpair(AF_UNIX,SOCK_STREAM,0,sv);
  pid_t pid=fork();
  if(pid==0){close(sv[0]); char fd[16]; sprintf(fd,"%d",sv[1]); execlp("python3","python3",argv[3],fd,NULL); _exit(1);}
  close(sv[1]);
  double*lat=malloc(sizeof(double)*n); char buf[65536];
  for(int i=0;i<n+2000;i++){
    double t=now(); write(sv[0],frame,len);
    ssize_t r;
    if(spin){ do { r=recv(sv[0],buf,sizeof buf,MSG_DONTWAIT);} while(r<0&&errno==EAGAIN);} else r=recv(sv[0],buf,sizeof buf,0);
    if(i>=2000) lat[i-2000]=now()-t;
  }
  qsort(lat,n,sizeof(double),cmp);
  printf("spin=%d round trip p50 %.1f us p99 %.1f us\n",spin,lat[n/2],lat[n*99/100]);
  kill(pid,9); return 0;
}
