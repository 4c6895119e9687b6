set -x
date; uptime
./loadc -d hc -n 20000 -p he0
./loadc -d og -n 20000 -p oe0
./loadc -d bu -n 20000 -p be0
./loadc -d hc -n 940000 -p fill
date; uptime; ps -o rss= -p $(pgrep -f 'serve --data /tmp/vdata')
./loadc -d hc -n 20000 -p m1 -ops 5000
./loadc -d og -n 20000 -p om1 -ops 5000
./loadc -d bu -n 20000 -p bm1 -ops 5000
date; uptime
