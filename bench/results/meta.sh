started=1796037656
loadavg_before=3.22\ 3.93\ 4.48\ 1/143\ 9311
loadavg_after=4.26\ 3.74\ 4.18\ 5/148\ 12955
commit=7638c44
bench_cmd=cd\ bench\ \&\&\ go\ test\ -run\ \'\^\$\'\ -bench\ .\ -benchmem\ -benchtime=1s\ -count=1\ ./inprocess\ \ \ #\ 3\ times\ over
load_cmd=cd\ bench\ \&\&\ go\ run\ ./cmd/load\ -root\ ..\ -clients\ 1\,16\,64\ -duration\ 3s\ -warmup\ 500ms\ -out\ load.json
elapsed=367
