import {round} from '@shop/util'
export function total(items){ return round(items.reduce((s,i)=>s+i.price*i.qty,0)) }
